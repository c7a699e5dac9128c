//! `svc-notify VAR=VALUE... [-- PROGRAM ARGS...]`: sends the assignments as
//! one sd_notify datagram to `$NOTIFY_SOCKET`, then execs PROGRAM, so the
//! message comes from the pid the supervisor watches (a shell service does
//! `exec svc-notify READY=1 -- mydaemon`).

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

fn send(socket: &str, message: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(abstract_name) = socket.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?;
        sock.send_to_addr(message.as_bytes(), &addr)?;
    } else {
        sock.send_to(message.as_bytes(), socket)?;
    }
    Ok(())
}

/// A diagnostic on stderr; a stderr that fails (EIO, ENOSPC, EPIPE) must
/// not turn a clean exit status into a panic.
fn say(args: std::fmt::Arguments) {
    let mut err = std::io::stderr();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "--help" {
        say(format_args!(
            "usage: svc-notify VAR=VALUE... [-- PROGRAM ARGS...]"
        ));
        return ExitCode::from(2);
    }
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let (vars, program) = (&args[..split], args.get(split + 1..).unwrap_or(&[]));
    if let Some(bad) = vars.iter().find(|v| !v.contains('=')) {
        say(format_args!("svc-notify: '{bad}' is not VAR=VALUE"));
        return ExitCode::from(2);
    }
    let Ok(socket) = std::env::var("NOTIFY_SOCKET") else {
        say(format_args!("svc-notify: NOTIFY_SOCKET is not set"));
        return ExitCode::from(1);
    };
    if let Err(e) = send(&socket, &vars.join("\n")) {
        say(format_args!("svc-notify: {socket}: {e}"));
        return ExitCode::from(1);
    }
    if let Some((prog, rest)) = program.split_first() {
        let e = std::process::Command::new(prog).args(rest).exec();
        say(format_args!("svc-notify: {prog}: {e}"));
        return ExitCode::from(127);
    }
    ExitCode::SUCCESS
}
