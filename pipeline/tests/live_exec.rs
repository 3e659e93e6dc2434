//! Exec fields on every kind of exec, live: the real agent, a rule printing the exec
//! fields on the execs of this test's children, and values worked out by the test (the
//! paths it made, stat, /proc). Kinds: execve of a fresh copy of a binary, execveat with a
//! directory fd and a name, execveat(AT_EMPTY_PATH) on the file's fd, a memfd exec, a
//! binary under /dev/shm, a symlink to a binary, and a `#!` script; in a podman container,
//! a binary copied into it (upper layer) against the image's own.
//!
//! What Falco fills was checked by running Falco 0.43.1 on the same actions: an execveat
//! is reported as `execve`; its filename is the kernel's `/dev/fd/N[/name]`; a memfd's
//! process is named `memfd:NAME` (proc.name and proc.exepath), argv[0] stays proc.exe;
//! a symlink's process has the link's name and the target's path; a script's process has
//! the script's name, the interpreter as argv[0] (proc.exe) and as proc.exepath.

mod common;

use common::host::{self, cstring};
use common::{skip, Agent};
use serde_json::{json, Map, Value};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

const FIELDS: &[&str] = &[
    "evt.type",
    "evt.arg.filename",
    "evt.arg.flags",
    "proc.name",
    "proc.exe",
    "proc.exepath",
    "proc.args",
    "proc.is_exe_from_memfd",
    "proc.is_exe_upper_layer",
    "proc.pexepath",
    "proc.aexepath[2]",
    "proc.exe_ino.ctime",
    "proc.exe_ino.mtime",
];

/// How a case's child runs its program.
enum How {
    Execve(String),
    /// execveat(dirfd, name, ..., 0).
    AtPath(String, String),
    /// execveat(fd, "", ..., AT_EMPTY_PATH).
    AtEmptyPath(String),
    /// A memfd of this name holding the program.
    Memfd(String),
}

struct Case {
    label: &'static str,
    how: How,
    argv: Vec<String>,
    /// Fields and their values.
    want: Vec<(&'static str, Value)>,
}

/// `/proc/<pid>/exe` of a process.
fn exepath(pid: u32) -> String {
    host::Proc::read(pid).exepath
}

/// Runs the case's exec in a child of this process; the child's pid and the fd its
/// execveat used (-100, AT_FDCWD, for a path).
fn run(case: &Case) -> (u32, i32) {
    let argv: Vec<CString> = case.argv.iter().map(|a| cstring(a)).collect();
    let env = [cstring("LC_ALL=C")];
    // Addresses as integers: the hook must be Send; the strings outlive the fork.
    let ptrs = |v: &[CString]| -> Vec<usize> {
        v.iter()
            .map(|c| c.as_ptr() as usize)
            .chain(std::iter::once(0))
            .collect()
    };
    let (argp, envp) = (ptrs(&argv), ptrs(&env));
    // The fd, path and flags of the execveat, made before the fork.
    let (fd, name, flags): (i32, CString, i32) = match &case.how {
        How::Execve(path) => (libc::AT_FDCWD, cstring(path), 0),
        How::AtPath(dir, name) => {
            // SAFETY: opening a directory we made; the child inherits it.
            let fd =
                unsafe { libc::open(cstring(dir).as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            assert!(fd >= 0);
            (fd, cstring(name), 0)
        }
        How::AtEmptyPath(path) => {
            // SAFETY: as above, the program's file.
            let fd = unsafe { libc::open(cstring(path).as_ptr(), libc::O_RDONLY) };
            assert!(fd >= 0);
            (fd, cstring(""), libc::AT_EMPTY_PATH)
        }
        How::Memfd(name) => {
            // SAFETY: a new memfd, filled with the program's bytes.
            let fd = unsafe { libc::memfd_create(cstring(name).as_ptr(), 0) };
            assert!(fd >= 0);
            let bytes = std::fs::read("/bin/true").unwrap();
            // SAFETY: writing our buffer to our fd.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            assert_eq!(n as usize, bytes.len());
            (fd, cstring(""), libc::AT_EMPTY_PATH)
        }
    };
    let mut cmd = Command::new("/nonexistent-never-run");
    // SAFETY: between fork and exec only the execveat syscall, on memory made before.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = (&argv, &env);
            libc::syscall(
                libc::SYS_execveat,
                fd,
                name.as_ptr(),
                argp.as_ptr(),
                envp.as_ptr(),
                flags,
            );
            Err(std::io::Error::last_os_error())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", case.label));
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "{}", case.label);
    if fd >= 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
    }
    (pid, fd)
}

#[test]
fn exec_fields_on_every_kind_of_exec() {
    let test = "exec_fields_on_every_kind_of_exec";
    if skip(test) {
        return;
    }
    let me = std::process::id();
    let dir = std::env::temp_dir().join(format!("peregrine-exec-{me}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display().to_string();
    let prog = format!("{d}/pgtrue");
    std::fs::copy("/bin/true", &prog).unwrap();
    let shm = format!("/dev/shm/pgshm-{me}");
    std::fs::copy("/bin/true", &shm).unwrap();
    let link = format!("{d}/pglink");
    std::os::unix::fs::symlink(&prog, &link).unwrap();
    let script = format!("{d}/pgscript.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sh = std::fs::canonicalize("/bin/sh")
        .unwrap()
        .display()
        .to_string();

    // The parent of each exec is this process; its parent is proc.aexepath[2].
    let pexepath = exepath(me);
    let aexepath2 = exepath(host::Proc::read(me).ppid);
    let times = |path: &str| {
        let (c, m) = host::ctime_mtime_ns(path);
        [
            ("proc.exe_ino.ctime", json!(c)),
            ("proc.exe_ino.mtime", json!(m)),
        ]
    };
    let file_exec = |argv0: &str, arg: &str, name: &str, path: &str, filename: &str| {
        let mut w = vec![
            ("evt.type", json!("execve")),
            ("evt.arg.filename", json!(filename)),
            ("evt.arg.flags", json!("EXE_WRITABLE")),
            ("proc.name", json!(name)),
            ("proc.exe", json!(argv0)),
            ("proc.exepath", json!(path)),
            ("proc.args", json!(arg)),
            ("proc.is_exe_from_memfd", json!(false)),
            ("proc.is_exe_upper_layer", json!(false)),
            ("proc.pexepath", json!(pexepath)),
            ("proc.aexepath[2]", json!(aexepath2)),
        ];
        w.extend(times(path));
        w
    };
    // The fd of an execveat is known once it ran: "{fd}" in a wanted value stands for it.
    let mut cases = vec![
        Case {
            label: "execve",
            how: How::Execve(prog.clone()),
            argv: vec!["pgtrue".into(), "execve".into()],
            want: file_exec("pgtrue", "execve", "pgtrue", &prog, &prog),
        },
        Case {
            label: "execveat with a path",
            how: How::AtPath(d.clone(), "pgtrue".into()),
            argv: vec!["pgtrue".into(), "at-path".into()],
            want: file_exec("pgtrue", "at-path", "pgtrue", &prog, "/dev/fd/{fd}/pgtrue"),
        },
        Case {
            label: "execveat AT_EMPTY_PATH",
            how: How::AtEmptyPath(prog.clone()),
            argv: vec!["pgtrue".into(), "at-empty".into()],
            want: file_exec("pgtrue", "at-empty", "pgtrue", &prog, "/dev/fd/{fd}"),
        },
        Case {
            label: "/dev/shm",
            how: How::Execve(shm.clone()),
            argv: vec!["pgshm".into(), "shm".into()],
            want: file_exec("pgshm", "shm", &format!("pgshm-{me}"), &shm, &shm),
        },
        Case {
            label: "symlink",
            how: How::Execve(link.clone()),
            argv: vec!["pglink".into(), "symlink".into()],
            want: file_exec("pglink", "symlink", "pglink", &prog, &link),
        },
        Case {
            label: "script",
            how: How::Execve(script.clone()),
            argv: vec!["pgscript.sh".into(), "script".into()],
            want: file_exec(
                "/bin/sh",
                &format!("{script} script"),
                "pgscript.sh",
                &sh,
                &script,
            ),
        },
    ];
    let memfd_name = format!("memfd:pgmemfd{}", me % 1000);
    cases.push(Case {
        label: "memfd",
        how: How::Memfd(memfd_name["memfd:".len()..].to_owned()),
        argv: vec!["pgmemfd".into(), "memfd".into()],
        want: vec![
            ("evt.type", json!("execve")),
            ("evt.arg.filename", json!("/dev/fd/{fd}")),
            ("evt.arg.flags", json!("EXE_WRITABLE|EXE_FROM_MEMFD")),
            // The kernel's comm: 15 bytes at most.
            ("proc.name", json!(memfd_name[..memfd_name.len().min(15)])),
            ("proc.exe", json!("pgmemfd")),
            ("proc.exepath", json!(memfd_name)),
            ("proc.args", json!("memfd")),
            ("proc.is_exe_from_memfd", json!(true)),
            ("proc.is_exe_upper_layer", json!(false)),
            ("proc.pexepath", json!(pexepath)),
            ("proc.aexepath[2]", json!(aexepath2)),
        ],
    });

    let output: Vec<String> = FIELDS
        .iter()
        .chain(&["proc.pid"])
        .map(|f| format!("{f}=%{f}"))
        .collect();
    let rules = format!(
        "- rule: exec\n  desc: t\n  condition: evt.type in (execve, execveat) and proc.ppid = {me}\n  output: {}\n  priority: INFO\n",
        serde_json::to_string(&output.join(" ")).unwrap()
    );
    let agent = Agent::start("live-exec", &rules, &[]);
    let ran: Vec<(u32, i32)> = cases.iter().map(run).collect();
    let alerts = agent.stop();

    let mut failures = Vec::new();
    for (case, (pid, fd)) in cases.iter().zip(&ran) {
        let mine: Vec<&Map<String, Value>> = alerts
            .iter()
            .map(|a| a["output_fields"].as_object().unwrap())
            .filter(|o| o["proc.pid"] == *pid)
            .collect();
        let [got] = mine.as_slice() else {
            failures.push(format!("{}: {} alerts: {mine:?}", case.label, mine.len()));
            continue;
        };
        for (field, want) in &case.want {
            let v = got.get(*field).unwrap_or(&Value::Null);
            let want = match want.as_str() {
                Some(w) if w.contains("{fd}") => json!(w.replace("{fd}", &fd.to_string())),
                _ => want.clone(),
            };
            if *v != want {
                failures.push(format!("{}: {field} = {v}, want {want}", case.label));
            }
        }
    }
    let _ = std::fs::remove_file(&shm);
    assert!(
        failures.is_empty(),
        "{} exec checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// In a podman container (overlay): a binary copied into the container runs from the
/// upper layer (proc.is_exe_upper_layer, EXE_UPPER_LAYER), the image's own from a lower one.
#[test]
fn upper_layer_exec_in_a_container() {
    let test = "upper_layer_exec_in_a_container";
    if common::skip_podman(test) {
        return;
    }
    let name = format!("peregrine-exec-{}", std::process::id());
    let rules = format!(
        "- rule: exec\n  desc: t\n  condition: evt.type = execve and container.name = {name}\n  output: \"proc.exepath=%proc.exepath proc.is_exe_upper_layer=%proc.is_exe_upper_layer evt.arg.flags=%evt.arg.flags proc.pexepath=%proc.pexepath\"\n  priority: INFO\n"
    );
    let agent = Agent::start("live-exec-container", &rules, &[]);
    let _ = Command::new("podman").args(["rm", "-f", &name]).output();
    let out = Command::new("podman")
        .args(["run", "--name", &name, common::IMAGE, "sh", "-c"])
        .arg("mkdir -p /tmp/pg && cp /bin/busybox /tmp/pg/busybox && /tmp/pg/busybox true && /bin/busybox true")
        .output()
        .unwrap();
    let _ = Command::new("podman").args(["rm", "-f", &name]).output();
    assert!(out.status.success(), "podman run: {out:?}");
    let alerts = agent.stop();
    let execs: Vec<&Map<String, Value>> = alerts
        .iter()
        .map(|a| a["output_fields"].as_object().unwrap())
        .collect();
    let of = |path: &str| -> Vec<&&Map<String, Value>> {
        execs.iter().filter(|o| o["proc.exepath"] == path).collect()
    };
    let copied = of("/tmp/pg/busybox");
    assert_eq!(copied.len(), 1, "{execs:#?}");
    assert_eq!(copied[0]["proc.is_exe_upper_layer"], true, "{copied:?}");
    let flags = copied[0]["evt.arg.flags"].as_str().unwrap_or_default();
    assert!(flags.split('|').any(|f| f == "EXE_UPPER_LAYER"), "{flags}");
    let image = of("/bin/busybox");
    assert!(!image.is_empty(), "{execs:#?}");
    for o in image {
        assert_eq!(o["proc.is_exe_upper_layer"], false, "{o:?}");
        let flags = o["evt.arg.flags"].as_str().unwrap_or_default();
        assert!(!flags.contains("EXE_UPPER_LAYER"), "{flags}");
        // As Falco 0.43 prints it for an image's binary.
        assert!(flags.split('|').any(|f| f == "EXE_LOWER_LAYER"), "{flags}");
    }
    assert_eq!(
        copied[0]["proc.pexepath"], "/bin/busybox",
        "its parent: the shell"
    );
}
