//! The daemon event loop on the in-memory kernel, driven through its
//! command channel: a real server removed by a reload is drained at weight
//! 0 and deleted when its grace expires (paused clock, the loop's own
//! timer); an operator's change that loses quorum reaches watchers, the
//! notify FIFO and the quorum_down script, in order.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use lvsd::control::protocol::{EventKind, Request, Response, RsAction, Status};
use lvsd::control::server::Command;
use lvsd::daemon::event_loop::{ConfigSource, Core, Inputs};
use lvsd::daemon::runtime::Runtime;
use lvsd::notify::Notifier;
use lvsd_checkers::engine::Engine;
use lvsd_ipvs::fake::FakeIpvs;
use tokio::sync::{mpsc, oneshot};

fn two_servers(global: &str, quorum: u32, second: bool) -> String {
    let mut t = format!(
        "global_defs {{\n{global}\n}}\nvirtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n quorum {quorum}\n"
    );
    t += " real_server 10.0.0.2 80 {\n  weight 1\n }\n";
    if second {
        t += " real_server 10.0.0.3 80 {\n  weight 1\n }\n";
    }
    t + "}\n"
}

struct Running {
    commands: mpsc::Sender<Command>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Core<FakeIpvs>>,
}

fn spawn_loop(
    mut core: Core<FakeIpvs>,
    engine: mpsc::UnboundedReceiver<lvsd_checkers::engine::EngineEvent>,
) -> Running {
    let (commands, cmd_rx) = mpsc::channel(16);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let inputs = Inputs {
            engine,
            commands: cmd_rx,
            notify_log: None,
            reconcile_interval: Duration::from_secs(3600),
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
    Running {
        commands,
        stop,
        task,
    }
}

async fn request(r: &Running, req: Request) -> Response {
    let (tx, rx) = oneshot::channel();
    r.commands
        .send(Command::Request {
            req,
            reply: Some(tx),
        })
        .await
        .unwrap();
    rx.await.unwrap()
}

async fn status(r: &Running) -> Status {
    match request(r, Request::Status).await {
        Response::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

async fn metrics(r: &Running) -> String {
    let (tx, rx) = oneshot::channel();
    r.commands
        .send(Command::Metrics { reply: tx })
        .await
        .unwrap();
    rx.await.unwrap()
}

fn start(
    conf: &Path,
    drain: Option<Duration>,
) -> (
    Core<FakeIpvs>,
    mpsc::UnboundedReceiver<lvsd_checkers::engine::EngineEvent>,
) {
    let loaded = lvsd::cli::load(conf, None, false);
    assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics());
    let (etx, erx) = mpsc::unbounded_channel();
    let engine = Engine::new(etx, Box::new(|| 0.0));
    let mut runtime = Runtime::start(loaded.config, FakeIpvs::default(), None, engine).unwrap();
    runtime.set_drain_removed(drain);
    let notifier = Notifier::new(&runtime.cfg.global, Duration::from_secs(5)).0;
    let core = Core::new(
        runtime,
        Some(notifier),
        ConfigSource {
            file: conf.to_path_buf(),
            config_id: None,
        },
    );
    (core, erx)
}

#[tokio::test(start_paused = true)]
async fn removed_server_drains_then_goes_on_the_loop_timer() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(&conf, two_servers("", 1, true)).unwrap();
    let (core, erx) = start(&conf, Some(Duration::from_secs(30)));
    let r = spawn_loop(core, erx);

    std::fs::write(&conf, two_servers("", 1, false)).unwrap();
    assert_eq!(
        request(&r, Request::Reload).await,
        Response::Reloaded { operations: 1 },
        "one weight edit to 0"
    );
    assert_eq!(status(&r).await.draining, 1);
    let m = metrics(&r).await;
    assert!(
        m.contains(
            "lvsd_rs_ipvs_weight{vs=\"10.0.0.1:80\",protocol=\"tcp\",rs=\"10.0.0.3:80\"} 0\n"
        ),
        "{m}"
    );

    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(status(&r).await.draining, 1, "still draining at 20 s");
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(status(&r).await.draining, 0, "gone after 30 s");
    assert!(!metrics(&r).await.contains("rs=\"10.0.0.3:80\""));

    let _ = r.stop.send(());
    let mut core = r.task.await.unwrap();
    let t = core.runtime.backend().table().clone();
    assert_eq!(t.services[0].destinations.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_loss_reaches_watchers_fifo_and_script_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lvs.fifo");
    let out = dir.path().join("out");
    let script = dir.path().join("q.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> {}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.path().join("k.conf");
    let text = two_servers(&format!("lvs_notify_fifo {}", fifo.display()), 2, true).replace(
        " quorum 2\n",
        &format!(
            " quorum 2\n quorum_down \"{s} down\"\n quorum_up \"{s} up\"\n",
            s = script.display()
        ),
    );
    std::fs::write(&conf, text).unwrap();
    let (core, erx) = start(&conf, None);
    let mut events = core.events.subscribe();
    let r = spawn_loop(core, erx);
    let reader = std::fs::File::open(&fifo).unwrap();

    let drain = |rs: &str, action| Request::Rs {
        action,
        vs: "10.0.0.1:80".into(),
        rs: rs.into(),
    };
    assert!(matches!(
        request(&r, drain("10.0.0.3:80", RsAction::Disable)).await,
        Response::Admin { .. }
    ));
    assert!(matches!(
        request(&r, drain("10.0.0.3:80", RsAction::Enable)).await,
        Response::Admin { .. }
    ));
    let e1 = events.recv().await.unwrap();
    let e2 = events.recv().await.unwrap();
    assert_eq!(
        (e1.kind, e2.kind),
        (EventKind::QuorumDown, EventKind::QuorumUp)
    );
    assert_eq!(e1.vs, "10.0.0.1:80");

    let mut lines = BufReader::new(reader);
    let mut got = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        lines.read_line(&mut l).unwrap();
        got.push(l);
    }
    assert_eq!(
        got,
        vec!["VS [10.0.0.1]:tcp:80 DOWN\n", "VS [10.0.0.1]:tcp:80 UP\n"]
    );

    let mut written = String::new();
    for _ in 0..200 {
        written = std::fs::read_to_string(&out).unwrap_or_default();
        if written.lines().count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(written, "down\nup\n");
    let _ = r.stop.send(());
    r.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omega_notifies_at_stop_only_where_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let script = dir.path().join("n.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> {}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = script.display();
    let vs = |addr: &str, omega: &str| {
        format!(
            "virtual_server {addr} 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n{omega}\n quorum_down \"{s} q-{addr}\"\n\
             real_server 10.0.0.2 80 {{\n  notify_down \"{s} rs-{addr}\"\n }}\n}}\n"
        )
    };
    let conf = dir.path().join("k.conf");
    std::fs::write(&conf, vs("10.0.0.1", " omega") + &vs("10.0.0.5", "")).unwrap();
    let (core, erx) = start(&conf, None);
    let r = spawn_loop(core, erx);
    assert_eq!(status(&r).await.virtual_servers.len(), 2);
    let _ = r.stop.send(());
    let mut core = r.task.await.unwrap();
    assert!(
        std::fs::read_to_string(&out).unwrap_or_default().is_empty(),
        "nothing before stop"
    );
    assert!(core.finish_notifications(Duration::from_secs(10)).await);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "rs-10.0.0.1\nq-10.0.0.1\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_notifications_are_sent_when_the_loop_starts() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("n.fifo");
    let conf = dir.path().join("k.conf");
    let global = format!("rs_init_notifies\n notify_fifo {}", fifo.display());
    std::fs::write(&conf, two_servers(&global, 1, false)).unwrap();
    let (mut core, erx) = start(&conf, None);
    core.runtime.startup_transitions();
    let reader = std::fs::File::open(&fifo).unwrap();
    let r = spawn_loop(core, erx);
    let mut l = String::new();
    BufReader::new(reader).read_line(&mut l).unwrap();
    assert_eq!(l, "RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n");
    let _ = r.stop.send(());
    r.task.await.unwrap();
}
