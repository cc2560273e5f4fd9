//! A model file's chat template rendered in a child process under memory and CPU limits.
//! minijinja bounds a rendering's steps and output but not the strings it builds on the way
//! (a namespace value doubled in a loop reaches gigabytes in thirty steps); an operating-system
//! limit on a process of its own is the bound that covers everything, as Jinja's maintainers
//! advise. The child is this same binary, started with `CHILD_ARG`, reading the job as JSON on
//! stdin and writing the text on stdout; it costs a few milliseconds a rendering.

use cospec::chat_template::RenderJob;
use cospec::tokenizer::TokenizerError;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// argv[1] of the child.
pub const CHILD_ARG: &str = "__render-chat-template";

/// Address space the child may map: its own few megabytes plus room for any real template.
pub const MEMORY_LIMIT_BYTES: u64 = 1 << 30;

/// CPU seconds the child may spend (minijinja's fuel stops real loops within about one).
pub const CPU_LIMIT_SECONDS: u64 = 10;

/// Exit code of a child whose rendering failed with an error it wrote on stderr.
const RENDER_ERROR: i32 = 3;

/// The parent's side: runs `job` in a child. Only when no child can be started (the
/// executable is gone) does it render here, with the in-process bounds, and say so once: a
/// child that started and failed is the rendering's failure, never a reason to retry here.
pub fn render_in_child(job: &RenderJob) -> Result<String, TokenizerError> {
    match spawn_and_wait(job) {
        Ok(result) => result,
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("warning: could not start a process to render the chat template ({e}); rendering it in this one"));
            job.render_here()
        }
    }
}

fn spawn_and_wait(job: &RenderJob) -> std::io::Result<Result<String, TokenizerError>> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe).arg(CHILD_ARG).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let input = serde_json::to_vec(job).map_err(std::io::Error::other)?;
    // The child reads all of its input before it writes anything, so no pipe fills here. A
    // child that died before reading it all leaves a broken pipe, which its status explains.
    let _ = child.stdin.take().expect("piped stdin").write_all(&input);
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Ok(if out.status.success() {
        String::from_utf8(out.stdout).map_err(|e| TokenizerError::Template(format!("output is not UTF-8: {e}")))
    } else if out.status.code() == Some(RENDER_ERROR) {
        Err(TokenizerError::Template(stderr))
    } else {
        // An allocation the limit refused aborts the child ("memory allocation of N bytes
        // failed"); the CPU limit kills it.
        Err(TokenizerError::Template(format!(
            "rendering stopped ({}{}): it needed more than {} MiB of memory or {} s of CPU, which no chat template needs",
            out.status,
            stderr.lines().find(|l| l.contains("memory allocation")).map(|l| format!(", {l}")).unwrap_or_default(),
            MEMORY_LIMIT_BYTES >> 20,
            CPU_LIMIT_SECONDS
        )))
    })
}

/// The child's side: limits itself, renders the job on stdin, exits.
pub fn child_main() -> ! {
    limit_self();
    let mut input = Vec::new();
    let job: Result<RenderJob, String> =
        std::io::stdin().read_to_end(&mut input).map_err(|e| e.to_string()).and_then(|_| serde_json::from_slice(&input).map_err(|e| e.to_string()));
    let code = match job.map_err(|e| format!("bad rendering job: {e}")).and_then(|j| j.render_here().map_err(|e| match e {
        // The parent wraps the text in its own TokenizerError::Template.
        TokenizerError::Template(message) => message,
        other => other.to_string(),
    })) {
        Ok(text) => match std::io::stdout().write_all(text.as_bytes()) {
            Ok(()) => 0,
            Err(_) => 1,
        },
        Err(e) => {
            eprint!("{e}");
            RENDER_ERROR
        }
    };
    std::process::exit(code)
}

#[cfg(unix)]
fn limit_self() {
    let set = |resource, value: u64| {
        let limit = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
        // A system that refuses one limit (macOS does not enforce an address-space limit)
        // still renders, with the other limit and minijinja's own bounds.
        // Safety: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            eprintln!("could not limit the rendering process: {}", std::io::Error::last_os_error());
        }
    };
    set(libc::RLIMIT_AS, MEMORY_LIMIT_BYTES);
    set(libc::RLIMIT_CPU, CPU_LIMIT_SECONDS);
}

#[cfg(not(unix))]
fn limit_self() {}
