//! A panic on any thread of the daemon ends the process with a non-zero
//! status (so systemd restarts it) instead of leaving it half alive. The
//! test runs this test binary again as a child that installs the daemon's
//! panic policy and panics on a worker thread while its main thread waits,
//! like the kiosk loop beside the runtime.

use std::process::Command;

const CHILD: &str = "ANTREAN_PANIC_POLICY_CHILD";

#[test]
fn a_panic_on_a_worker_thread_ends_the_process() {
    if std::env::var_os(CHILD).is_some() {
        antrean_host::logging::exit_on_panic();
        let worker = std::thread::Builder::new()
            .name("kiosk".into())
            .spawn(|| panic!("kiosk loop bug"))
            .unwrap();
        // Without the policy the main thread would carry on (and exit 0
        // here, failing the parent's check).
        let _ = worker.join();
        std::process::exit(0);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panic_policy::a_panic_on_a_worker_thread_ends_the_process",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(antrean_host::logging::PANIC_EXIT_CODE),
        "{stderr}"
    );
    assert!(stderr.contains("kiosk loop bug"), "{stderr}");
}
