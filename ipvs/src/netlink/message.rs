//! The IPVS generic netlink message: a command and its attributes. Emitted
//! through rust-netlink's `GenlMessage`/`NetlinkMessage`; parsed tolerantly
//! (attributes kept raw and decoded per command by `convert`).

use netlink_packet_core::{DecodeError, Emitable, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use super::attr::{parse_attrs, Attr};
use super::consts::{FAMILY_NAME, VERSION};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    pub cmd: u8,
    /// Attributes to send (empty for a parsed reply).
    pub attrs: Vec<Attr>,
    /// The raw attribute bytes of a parsed reply.
    pub payload: Vec<u8>,
}

impl IpvsMessage {
    pub fn new(cmd: u8, attrs: Vec<Attr>) -> Self {
        IpvsMessage {
            cmd,
            attrs,
            payload: Vec::new(),
        }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        // Validate the attribute framing now; decode values per command later.
        parse_attrs(buf)?;
        Ok(IpvsMessage {
            cmd: header.cmd,
            attrs: Vec::new(),
            payload: buf.to_vec(),
        })
    }
}
