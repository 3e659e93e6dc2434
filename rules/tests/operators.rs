//! Every operator and transformer, end to end: condition text → compiled rule → event.

mod common;
use common::*;
use peregrine_event::flags::open;
use peregrine_event::*;
use std::sync::Arc;

#[track_caller]
fn check(cases: &[(&str, bool)], ev: &Event) {
    for (cond, want) in cases {
        assert_eq!(eval(cond, ev), *want, "condition: {cond}");
    }
}

#[test]
fn equality_and_inequality() {
    let ev = shadow_read();
    check(
        &[
            ("proc.name = cat", true),
            ("proc.name == cat", true),
            ("proc.name = Cat", false),
            ("proc.name = \"cat\"", true),
            ("proc.name = 'cat'", true),
            ("proc.name != bash", true),
            ("proc.name != cat", false),
            ("fd.name = /etc/shadow", true),
            ("proc.pname = bash", true),
            ("proc.name = \"\"", false),
            ("evt.type = openat", true),
            ("evt.type != openat", false),
            ("evt.type = execve", false),
        ],
        &ev,
    );
}

#[test]
fn missing_fields_make_every_comparison_false() {
    let ev = shadow_read(); // a host process: container image fields are absent
    check(
        &[
            ("container.image.repository = nginx", false),
            ("container.image.repository != nginx", false),
            ("container.image.repository contains x", false),
            ("container.image.repository exists", false),
            ("not container.image.repository = nginx", true),
            ("not container.image.repository exists", true),
            ("container.id = host", true),
            ("container.id != host", false),
            ("fd.sip = 10.0.0.1", false),
            ("fd.sip != 10.0.0.1", false),
        ],
        &ev,
    );
    let mut orphan = shadow_read();
    let mut p = (**orphan.process.as_ref().unwrap()).clone();
    p.parent = None;
    orphan.process = Some(Arc::new(p));
    check(
        &[
            ("proc.pname != bash", false),
            ("not proc.pname = bash", true),
            ("proc.pname exists", false),
        ],
        &orphan,
    );
}

#[test]
fn numeric_comparisons() {
    let ev = shadow_read();
    check(
        &[
            ("fd.num >= 0", true),
            ("fd.num > 3", false),
            ("fd.num <= 3", true),
            ("fd.num < 3", false),
            ("fd.num = 3", true),
            ("fd.num != 3", false),
            ("fd.num in (1, 2, 3)", true),
            ("fd.num = 0x3", true),
            ("user.uid = 0", true),
            ("user.uid != 0", false),
            ("user.loginuid = 1000", true),
            ("proc.tty != 0", true),
            ("evt.rawres >= 0", true),
            ("evt.rawres < 0", false),
            ("proc.pid = 200", true),
        ],
        &ev,
    );
}

#[test]
fn string_operators() {
    let ev = shadow_read();
    check(
        &[
            ("fd.name contains shad", true),
            ("fd.name contains SHAD", false),
            ("fd.name icontains SHAD", true),
            ("fd.name icontains \"\"", true),
            ("fd.name startswith /etc/", true),
            ("fd.name startswith /usr", false),
            ("fd.name endswith shadow", true),
            ("fd.name endswith shadow/", false),
            ("fd.name glob '/etc/*'", true),
            ("fd.name glob '/etc/sha?ow'", true),
            ("fd.name glob '/ETC/*'", false),
            ("fd.name iglob '/ETC/*'", true),
            ("fd.name regex '/etc/s.*'", true),
            ("fd.name regex 'etc'", false),
            ("fd.name regex '.*etc.*'", true),
            ("proc.pname < val(proc.name)", true),
            ("proc.pname > val(proc.name)", false),
            ("proc.cmdline = \"cat /etc/shadow\"", true),
            ("proc.cmdline contains \"cat /etc\"", true),
            ("proc.args = /etc/shadow", true),
        ],
        &ev,
    );
}

#[test]
fn list_operators() {
    let ev = shadow_read();
    check(
        &[
            ("proc.name in (cat, ls)", true),
            ("proc.name in (ls, grep)", false),
            ("proc.name in ()", false),
            ("proc.name in (\"cat\")", true),
            ("proc.name intersects (cat, ls)", true),
            ("fd.name pmatch (/etc, /usr/bin)", true),
            ("fd.name pmatch (/et, /usr/bin)", false),
            ("fd.name pmatch (/etc/shadow)", true),
            ("fd.directory in (/etc)", true),
            ("fd.filename in (shadow, passwd)", true),
            ("proc.aname in (sshd)", true),
            ("proc.aname = systemd", true),
            ("proc.aname = nope", false),
            ("proc.aname[2] = sshd", true),
            ("proc.aname[3] = systemd", true),
            ("proc.aname[1] = bash", true),
            ("proc.aname[0] = cat", true),
            ("proc.aname[9] = cat", false),
            ("evt.type in (open, openat, openat2)", true),
            ("evt.type in (execve)", false),
        ],
        &ev,
    );
}

#[test]
fn list_modifiers() {
    let ev = shadow_read();
    check(
        &[
            ("proc.name startswith anyof (ca, zz)", true),
            ("proc.name startswith anyof (xx, zz)", false),
            ("proc.name startswith allof (c, ca)", true),
            ("proc.name startswith allof (c, x)", false),
            ("proc.name startswith oneof (c, ca)", false),
            ("proc.name startswith oneof (c, x)", true),
            ("fd.name endswith anyof (dow, wd)", true),
            ("fd.name contains anyof (xyz, etc)", true),
        ],
        &ev,
    );
}

#[test]
fn bytes_and_flags() {
    let mut ev = connect_event("10.0.0.1", 80);
    ev.etype = EventType::SENDTO;
    ev.params = vec![
        ParamValue::Int(16),
        ParamValue::Bytes(b"GET / HTTP/1.1\r\n".to_vec()),
        ParamValue::Int(5),
        ParamValue::Uint(16),
    ];
    check(
        &[
            ("evt.buffer bcontains 474554", true),
            ("evt.buffer bcontains 505554", false),
            ("evt.buffer bstartswith 474554", true),
            ("evt.buffer bstartswith 2f", false),
        ],
        &ev,
    );
    let w = open_event("/tmp/x", open::O_WRONLY | open::O_CREAT | open::O_TRUNC);
    check(
        &[
            ("evt.arg.flags contains O_TRUNC", true),
            ("evt.arg.flags contains O_APPEND", false),
            ("evt.arg.flags contains \"O_WRONLY\"", true),
            ("evt.is_open_write = true", true),
            ("evt.is_open_read = true", false),
            ("evt.arg.name = /tmp/x", true),
            ("evt.arg[2] = /tmp/x", true),
        ],
        &w,
    );
}

#[test]
fn network_fields() {
    let ev = connect_event("10.0.0.1", 443);
    check(
        &[
            ("fd.sip = 10.0.0.1", true),
            ("fd.sip = 10.0.0.2", false),
            ("fd.cip = 10.1.2.3", true),
            ("fd.ip = 10.0.0.1", true),
            ("fd.ip = 10.1.2.3", true),
            ("fd.ip != 10.0.0.1", false),
            ("fd.ip != 8.8.8.8", true),
            ("fd.sport = 443", true),
            ("fd.sport in (80, 443)", true),
            ("fd.net = 10.0.0.0/8", true),
            ("fd.net != \"127.0.0.0/8\"", true),
            ("fd.snet in (10.0.0.0/24, 192.168.0.0/16)", true),
            ("fd.snet in (192.168.0.0/16)", false),
            ("fd.cnet in (10.1.0.0/16)", true),
            ("fd.l4proto = tcp", true),
            ("fd.l4proto != udp", true),
            ("fd.typechar = 4", true),
            ("fd.sockfamily = ip", true),
        ],
        &ev,
    );
    let v6 = connect_event("fd00::1", 80);
    check(
        &[
            ("fd.sip = \"fd00::1\"", true),
            ("fd.snet in (\"fd00::/8\")", true),
            ("fd.typechar = 6", true),
        ],
        &v6,
    );
}

#[test]
fn transformers() {
    let ev = shadow_read();
    check(
        &[
            ("toupper(proc.name) = CAT", true),
            ("tolower(toupper(proc.name)) = cat", true),
            ("basename(fd.name) = shadow", true),
            ("len(proc.name) = 3", true),
            ("len(proc.name) > 5", false),
            ("proc.name = val(proc.name)", true),
            ("proc.name = val(proc.pname)", false),
            ("proc.pname = val(proc.pname)", true),
            ("toupper(proc.name) = toupper(proc.name)", true),
            (
                "proc.name in (cat) and tolower(proc.name) startswith ca",
                true,
            ),
        ],
        &ev,
    );
    let mut b64 = shadow_read();
    let mut p = (**b64.process.as_ref().unwrap()).clone();
    p.args = ["aGVsbG8=".into()].into();
    b64.process = Some(Arc::new(p));
    check(
        &[
            ("b64(proc.args) = hello", true),
            ("b64(proc.args) = nope", false),
        ],
        &b64,
    );
}

#[test]
fn boolean_logic_and_precedence() {
    let ev = shadow_read();
    check(
        &[
            ("proc.name = cat and fd.name = /etc/shadow", true),
            ("proc.name = ls or fd.name = /etc/shadow", true),
            (
                "proc.name = ls or proc.name = cat and fd.name = /nope",
                false,
            ),
            (
                "(proc.name = ls or proc.name = cat) and fd.name = /etc/shadow",
                true,
            ),
            ("not proc.name = ls", true),
            ("not not proc.name = cat", true),
            ("not (proc.name = cat or proc.name = ls)", false),
            ("not(proc.name = ls)", true),
            ("evt.dir = <", true),
            ("evt.dir = >", false),
            ("evt.dir != >", true),
        ],
        &ev,
    );
}

#[test]
fn escapes_in_values() {
    let ev = open_event("/tmp/a\"b c", open::O_RDONLY);
    check(
        &[
            ("fd.name = \"/tmp/a\\\"b c\"", true),
            ("fd.name = '/tmp/a\"b c'", true),
            ("fd.name contains \"b c\"", true),
        ],
        &ev,
    );
}

#[test]
fn compile_errors_name_the_problem() {
    let cases = [
        ("proc.nobody = cat", "nonexistent field proc.nobody"),
        ("evt.type = nosuchcall", "unknown event type nosuchcall"),
        ("fd.num = abc", "not a valid number"),
        ("fd.sip = nonsense", "not a valid IP address"),
        ("fd.net = 10.0.0.0/99", "not a valid IP network"),
        ("evt.is_open_read = maybe", "not a valid boolean"),
        ("fd.num contains 3", "not supported"),
        ("fd.name regex '('", "invalid regular expression"),
        (
            "toupper(fd.num) = 3",
            "transformer 'toupper' is not supported",
        ),
        ("evt.buffer bcontains xyz", "not a valid hex string"),
        (
            "undefined_macro_name",
            "Undefined macro 'undefined_macro_name' used in filter.",
        ),
    ];
    for (cond, want) in cases {
        let msg = compile_error(cond);
        assert!(msg.contains(want), "{cond}: got {msg:?}, want {want:?}");
    }
}

/// Vectors from libs' `filter_op_pmatch.ut.cpp` (an open of /opt/dir/subdir/file.txt).
#[test]
fn pmatch_upstream_vectors() {
    let ev = open_event("/opt/dir/subdir/file.txt", open::O_RDONLY);
    check(
        &[
            ("fd.name pmatch (/opt/dir)", true),
            ("fd.name pmatch (/opt/dir/subdir)", true),
            ("fd.name pmatch (/opt/dir2)", false),
            ("fd.name pmatch (/opt/dir, /opt/dir2)", true),
            ("fd.name pmatch (/opt/dir3, /opt/dir2)", false),
            ("fd.name pmatch (/opt/*)", true),
            ("fd.name pmatch (/opt/*/subdir)", true),
            ("fd.name pmatch (/opt/di?/subdir)", true),
            ("fd.name pmatch (/opt/dii?/subdir)", false),
            ("fd.name pmatch (/opt/di[r]/subdir)", true),
            ("fd.name pmatch (/opt/di[!r]/subdir)", false),
            ("fd.name pmatch (/opt/di/subdir)", false),
            ("fd.name pmatch (/opt/di[t]/subdir)", false),
            ("fd.name pmatch (/opt/*/subdir2)", false),
            ("fd.name pmatch (/opt/*/*)", true),
            ("fd.name pmatch (/opt/*/*/subsubdir)", false),
        ],
        &ev,
    );
}
