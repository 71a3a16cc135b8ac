//! User space: load the eBPF program, attach it, print each event it sends.
use std::error::Error;
use std::mem::MaybeUninit;
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::RingBufferBuilder;

mod probe {
    include!(concat!(env!("OUT_DIR"), "/probe.skel.rs"));
}

const COMM_LEN: usize = 16;
const PATH_LEN: usize = 256;

/// Text up to the first NUL byte.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Decode one `struct event` (see src/bpf/probe.bpf.c) and print it.
fn handle_event(data: &[u8]) -> i32 {
    if data.len() < 4 + COMM_LEN + PATH_LEN {
        return 0;
    }
    let pid = u32::from_ne_bytes(data[0..4].try_into().unwrap());
    let comm = c_string(&data[4..4 + COMM_LEN]);
    let filename = c_string(&data[4 + COMM_LEN..4 + COMM_LEN + PATH_LEN]);
    println!("{pid:<8} {comm:<16} {filename}");
    0
}

fn parse_pid() -> Result<u32, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0),
        [flag, pid] if flag == "--pid" => Ok(pid.parse()?),
        _ => Err("usage: {{name}} [--pid PID]".into()),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let target_pid = parse_pid()?;
    let mut storage = MaybeUninit::uninit();
    let mut open = probe::ProbeSkelBuilder::default().open(&mut storage)?;
    if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
        rodata.target_pid = target_pid;
    }
    let mut skel = open.load()?;
    skel.attach()?;
    let mut builder = RingBufferBuilder::new();
    builder.add(&skel.maps.events, handle_event)?;
    let ring = builder.build()?;
    eprintln!("attached: tracing openat() calls, Ctrl-C to stop");
    loop {
        ring.poll(Duration::from_millis(100))?;
    }
}
