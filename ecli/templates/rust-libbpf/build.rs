//! Compiles src/bpf/probe.bpf.c and writes its Rust skeleton into OUT_DIR.
//! vmlinux.h comes from this kernel's BTF unless src/bpf/vmlinux.h exists.
use std::env;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use libbpf_cargo::SkeletonBuilder;

const SOURCE: &str = "src/bpf/probe.bpf.c";
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let vmlinux = PathBuf::from("src/bpf/vmlinux.h");
    if !vmlinux.exists() {
        let file = File::create(&vmlinux).expect("cannot write src/bpf/vmlinux.h");
        let status = Command::new("bpftool")
            .args(["btf", "dump", "file", KERNEL_BTF, "format", "c"])
            .stdout(Stdio::from(file))
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            let _ = std::fs::remove_file(&vmlinux);
            panic!("bpftool could not dump {KERNEL_BTF}: put a vmlinux.h in src/bpf/ (see README)");
        }
    }
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "arm64",
        _ => "x86",
    };
    // Paths in the object relative to the project: the same sources, the same bytes in any folder.
    let project = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    SkeletonBuilder::new()
        .source(SOURCE)
        .clang_args([
            format!("-D__TARGET_ARCH_{arch}"),
            "-Isrc/bpf".to_string(),
            format!("-ffile-prefix-map={project}=."),
        ])
        .build_and_generate(out.join("probe.skel.rs"))
        .expect("building the eBPF skeleton failed");
    println!("cargo:rerun-if-changed={SOURCE}");
}
