//! The daemon loop with the in-memory kernel, real TCP checks on 127.0.0.1
//! and a real control socket in a temp dir, driven through the protocol
//! client and the `lvsd` binary: status, watch (a real server going down),
//! rs drain/disable/enable surviving a reload, a refused broken reload,
//! read-only vs state-changing access for another uid, and the CLI's
//! error when the daemon is not running.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lvsd::control::access;
use lvsd::control::client::Client;
use lvsd::control::protocol::{EventKind, Request, Response, RsAction, RsState, Status};
use lvsd::control::server::{self, Command};
use lvsd::daemon::event_loop::{ConfigSource, Core, Inputs};
use lvsd::daemon::runtime::Runtime;
use lvsd::director::state::AdminState;
use lvsd_checkers::engine::Engine;
use lvsd_ipvs::fake::FakeIpvs;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

struct Daemon {
    dir: tempfile::TempDir,
    sock: PathBuf,
    conf: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Core<FakeIpvs>>>,
}

impl Daemon {
    /// Stops the loop; the temp dir is handed back so it outlives checks.
    async fn stop(mut self) -> (Core<FakeIpvs>, tempfile::TempDir) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take().expect("running");
        let core = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("loop stops")
            .expect("loop task");
        (core, self.dir)
    }
}

fn conf_text(check_port: u16, weight_b: u32) -> String {
    format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n delay_loop 1\n\
         real_server 127.0.0.1 80 {{\n  weight 1\n  TCP_CHECK {{\n   connect_port {check_port}\n   connect_timeout 1\n   warmup 0\n   retry 0\n  }}\n }}\n\
         real_server 127.0.0.2 80 {{\n  weight {weight_b}\n }}\n}}\n"
    )
}

async fn start(text: &str, group: Option<u32>) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, text).unwrap();
    let sock = dir.path().join("run/lvsd.sock");
    let loaded = lvsd::cli::load(&conf, None, false);
    assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics());
    let (etx, erx) = mpsc::unbounded_channel();
    let engine = Engine::new(etx, Box::new(|| 0.0));
    let runtime = Runtime::start(loaded.config, FakeIpvs::default(), None, engine).unwrap();
    let mut core = Core::new(
        runtime,
        None,
        ConfigSource {
            file: conf.clone(),
            config_id: None,
        },
    );
    let bound = access::bind(&sock, group).unwrap();
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(16);
    tokio::spawn(server::serve(bound, cmd_tx, core.events.clone()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let inputs = Inputs {
            engine: erx,
            commands: cmd_rx,
            notify_log: None,
            reconcile_interval: Duration::from_secs(60),
        };
        core.run(
            inputs,
            async {
                let _ = stop_rx.await;
            },
            &mut |l| eprintln!("lvsd: {l}"),
        )
        .await;
        core
    });
    Daemon {
        dir,
        sock,
        conf,
        stop: Some(stop_tx),
        task: Some(task),
    }
}

/// One request over a fresh connection (blocking client off the runtime).
async fn ask(sock: &Path, req: Request) -> Response {
    let sock = sock.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut c = Client::connect(&sock).unwrap();
        c.request(&req).unwrap()
    })
    .await
    .unwrap()
}

async fn status(sock: &Path) -> Status {
    match ask(sock, Request::Status).await {
        Response::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

fn rs_req(action: RsAction, rs: &str) -> Request {
    Request::Rs {
        action,
        vs: "10.0.0.1:80".into(),
        rs: rs.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_watch_follow_a_real_server_going_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let d = start(&conf_text(port, 2), None).await;

    let st = status(&d.sock).await;
    let vs = &st.virtual_servers[0];
    assert_eq!(
        (vs.vs.as_str(), vs.protocol.as_str()),
        ("10.0.0.1:80", "tcp")
    );
    assert!(vs.quorum_up);
    assert_eq!(vs.real_servers[0].state, RsState::Up);
    assert_eq!(vs.real_servers[1].ipvs_weight, Some(2));
    assert_eq!(st.reconcile.runs, 1);
    assert_eq!(st.reconcile.operations, 3, "service + two destinations");

    // Watch from a blocking client; the listener goes away.
    let sock = d.sock.clone();
    let watcher = tokio::task::spawn_blocking(move || {
        let mut c = Client::connect(&sock).unwrap();
        c.send(&Request::Watch).unwrap();
        assert_eq!(c.read_response().unwrap(), Some(Response::Watching));
        match c.read_response().unwrap() {
            Some(Response::Event(e)) => e,
            other => panic!("{other:?}"),
        }
    });
    // Let the watcher subscribe before the transition.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(listener);
    let ev = tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .expect("an event within the bound")
        .unwrap();
    assert_eq!(ev.kind, EventKind::RealServerDown);
    assert_eq!(ev.rs.as_deref(), Some("127.0.0.1:80"));
    assert!(
        ev.reason.as_deref().unwrap_or("").contains("refused"),
        "{ev:?}"
    );

    let st = status(&d.sock).await;
    let r = &st.virtual_servers[0].real_servers[0];
    assert_eq!(r.state, RsState::Down);
    assert_eq!(r.ipvs_weight, None);
    assert!(r.reason.as_deref().unwrap_or("").contains("refused"));
    assert!(
        r.since_ms > 0 && r.since_ms <= ev.at_ms,
        "{} {}",
        r.since_ms,
        ev.at_ms
    );

    let (mut core, _dir) = d.stop().await;
    let dests = &core.runtime.backend().table().services[0].destinations;
    assert_eq!(dests.len(), 1, "the down server left the kernel table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_state_reload_and_refused_reload() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let d = start(&conf_text(port, 2), None).await;

    match ask(&d.sock, rs_req(RsAction::Drain, "127.0.0.2:80")).await {
        Response::Admin {
            admin, operations, ..
        } => {
            assert_eq!(admin, AdminState::Drain);
            assert_eq!(operations, 1, "one weight edit");
        }
        other => panic!("{other:?}"),
    }
    match ask(&d.sock, rs_req(RsAction::Disable, "127.0.0.9:80")).await {
        Response::Error { message, .. } => assert!(message.contains("127.0.0.9:80"), "{message}"),
        other => panic!("{other:?}"),
    }

    // Reload with a changed weight: the drain stays.
    std::fs::write(&d.conf, conf_text(port, 7)).unwrap();
    assert_eq!(
        ask(&d.sock, Request::Reload).await,
        Response::Reloaded { operations: 0 }
    );
    let st = status(&d.sock).await;
    let r = &st.virtual_servers[0].real_servers[1];
    assert_eq!(
        (r.admin, r.weight, r.ipvs_weight),
        (AdminState::Drain, 7, Some(0))
    );
    assert_eq!(st.reloads.count, 1);

    // A broken config is refused with its diagnostics; nothing changes.
    std::fs::write(
        &d.conf,
        "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 {\n",
    )
    .unwrap();
    match ask(&d.sock, Request::Reload).await {
        Response::Error {
            message,
            diagnostics,
        } => {
            assert!(message.contains("refused"), "{message}");
            assert!(diagnostics.unwrap_or_default().contains("error"));
        }
        other => panic!("{other:?}"),
    }
    let st = status(&d.sock).await;
    assert_eq!(st.reloads.failures, 1);
    assert_eq!(st.virtual_servers[0].real_servers[1].weight, 7);

    match ask(&d.sock, rs_req(RsAction::Enable, "127.0.0.2:80")).await {
        Response::Admin { operations, .. } => assert_eq!(operations, 1),
        other => panic!("{other:?}"),
    }
    let (mut core, _dir) = d.stop().await;
    let weights: Vec<u32> = core.runtime.backend().table().services[0]
        .destinations
        .iter()
        .map(|d| d.weight)
        .collect();
    assert_eq!(weights, vec![1, 7]);
    drop(listener);
}

async fn lvsd(args: &[&str], as_nobody: bool) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_lvsd"));
    cmd.args(args);
    if as_nobody {
        // SAFETY: async-signal-safe calls only.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) < 0
                    || libc::setgid(65534) < 0
                    || libc::setuid(65534) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("lvsd exits")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_and_access_for_another_uid() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // SAFETY: cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let d = start(&conf_text(port, 2), if root { Some(65534) } else { None }).await;
    let sock = d.sock.to_str().unwrap().to_string();

    let (code, out, err) = lvsd(&["status", "--socket", &sock], false).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("VS "), "{out}");
    assert!(
        out.contains("127.0.0.2:80") && out.contains(" up "),
        "{out}"
    );

    let (code, out, _) = lvsd(&["status", "--json", "--socket", &sock], false).await;
    assert_eq!(code, 0);
    let st: Status = serde_json::from_str(&out).unwrap();
    assert_eq!(st.virtual_servers[0].real_servers.len(), 2);

    let (code, out, err) = lvsd(
        &[
            "rs",
            "drain",
            "10.0.0.1:80",
            "127.0.0.2:80",
            "--socket",
            &sock,
        ],
        false,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("drain"), "{out}");
    let (code, _, err) = lvsd(
        &["rs", "drain", "10.0.0.1", "127.0.0.2:80", "--socket", &sock],
        false,
    )
    .await;
    assert_eq!(code, 64, "{err}");
    let (code, out, err) = lvsd(&["reload", "--socket", &sock], false).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "reloaded: 0 IPVS operations\n");

    if root {
        // Another uid in the socket's group: may read, may not change.
        let dir_mode = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(d.dir.path(), dir_mode).unwrap();
        let (code, out, err) = lvsd(&["status", "--socket", &sock], true).await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("down (drain)") || out.contains("up (drain)"),
            "{out}"
        );
        let (code, _, err) = lvsd(
            &[
                "rs",
                "enable",
                "10.0.0.1:80",
                "127.0.0.2:80",
                "--socket",
                &sock,
            ],
            true,
        )
        .await;
        assert_eq!(code, 1);
        assert!(err.contains("permission denied"), "{err}");
        let (code, _, err) = lvsd(&["reload", "--socket", &sock], true).await;
        assert_eq!(code, 1);
        assert!(err.contains("permission denied"), "{err}");
        let st = status(&d.sock).await;
        assert_eq!(
            st.virtual_servers[0].real_servers[1].admin,
            AdminState::Drain
        );
        assert_eq!(st.reloads.count, 1, "the refused reload did not run");
    } else {
        eprintln!("not root: skipping the other-uid part");
    }
    // Stopping the loop closes the server, which removes the socket file.
    let sock_path = d.sock.clone();
    let (core, _dir) = d.stop().await;
    let mut gone = false;
    for _ in 0..100 {
        if !sock_path.exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "socket file removed after the loop stopped");
    drop(core);
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_oversized_requests() {
    use std::io::{BufRead, BufReader, Read, Write};
    let d = start(
        "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.0.2 80 {\n }\n}\n",
        None,
    )
    .await;
    let sock = d.sock.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        // A bad line gets an error; the connection stays usable.
        s.write_all(b"{\"cmd\":\"shutdown\"}\n{\"cmd\":\"status\"}\n")
            .unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(
            matches!(Response::parse(&line), Ok(Response::Error { .. })),
            "{line}"
        );
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(
            matches!(Response::parse(&line), Ok(Response::Status(_))),
            "{line}"
        );
        // A line longer than the limit: an error, then the daemon hangs up.
        let big = vec![b'x'; 70 * 1024];
        let _ = s.write_all(&big);
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(line.contains("too long"), "{line}");
        let mut rest = Vec::new();
        assert_eq!(r.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    })
    .await
    .unwrap();
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_only_socket_refuses_other_users() {
    // SAFETY: cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot run a client as another uid");
        return;
    }
    let d = start(
        "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 10.0.0.2 80 {\n }\n}\n",
        None,
    )
    .await;
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        d.sock.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let sock = d.sock.to_str().unwrap().to_string();
    let (code, out, err) = lvsd(&["status", "--socket", &sock], true).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty());
    assert!(err.contains("permission denied"), "{err}");
    let (code, _, err) = lvsd(&["status", "--socket", &sock], false).await;
    assert_eq!(code, 0, "{err}");
    d.stop().await;
}

#[tokio::test]
async fn cli_says_when_the_daemon_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("lvsd.sock");
    let m = missing.to_str().unwrap();
    let (code, out, err) = lvsd(&["status", "--socket", m], false).await;
    assert_eq!(code, 3);
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!("lvsd: lvsd is not running (no control socket at {m})\n")
    );

    // A stale socket nobody listens on: connection refused.
    let stale = std::os::unix::net::UnixListener::bind(&missing).unwrap();
    drop(stale);
    for args in [
        vec!["reload", "--socket", m],
        vec!["rs", "disable", "fwmark:1", "10.0.0.2:80", "--socket", m],
        vec!["status", "--watch", "--socket", m],
    ] {
        let (code, _, err) = lvsd(&args, false).await;
        assert_eq!(code, 3, "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("not running (connection refused"), "{err}");
    }
}
