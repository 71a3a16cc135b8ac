#!/usr/bin/env node
// SPDX-License-Identifier: BSD-3-Clause
// {{name}}: load probe.bpf.o with libbpf (through koffi), attach it, print each event.
import * as fs from "node:fs";
import * as path from "node:path";
import * as util from "node:util";
import koffi from "koffi";

const COMM_LEN = 16;
const PATH_LEN = 256;
// Bundle: bin/{{name}} + lib/probe.bpf.o; checkout: dist/main.js + build/probe.bpf.o.
const OBJECT_CANDIDATES = ["../lib/probe.bpf.o", "../build/probe.bpf.o"].map(
  (p) => path.resolve(__dirname, p));

/** struct event of probe.bpf.c: keep the two in step. */
const Event = koffi.struct("event", {
  pid: "uint32_t",
  comm: koffi.array("char", COMM_LEN, "String"),
  filename: koffi.array("char", PATH_LEN, "String"),
});
const SampleFn = koffi.proto("int sample_fn(void *ctx, void *data, size_t size)");

const libbpf = koffi.load("libbpf.so.1");
const bpf = {
  openFile: libbpf.func("void *bpf_object__open_file(const char *path, void *opts)"),
  load: libbpf.func("int bpf_object__load(void *obj)"),
  close: libbpf.func("void bpf_object__close(void *obj)"),
  nextProgram: libbpf.func("void *bpf_object__next_program(void *obj, void *prev)"),
  programName: libbpf.func("const char *bpf_program__name(void *prog)"),
  attach: libbpf.func("void *bpf_program__attach(void *prog)"),
  destroyLink: libbpf.func("int bpf_link__destroy(void *link)"),
  mapFd: libbpf.func("int bpf_object__find_map_fd_by_name(void *obj, const char *name)"),
  ringNew: libbpf.func("void *ring_buffer__new(int fd, sample_fn *cb, void *ctx, void *opts)"),
  ringPoll: libbpf.func("int ring_buffer__poll(void *rb, int timeout_ms)"),
  ringFree: libbpf.func("void ring_buffer__free(void *rb)"),
};

/** Stop with one line naming what failed and the C error (libbpf returns -errno). */
function fail(what: string, code: number = koffi.errno()): never {
  const errno = Math.abs(code);
  throw new Error(`{{name}}: ${what}: ${errno ? util.getSystemErrorName(-errno) : "failed"}`);
}

function findObject(explicit?: string): string {
  for (const candidate of explicit ? [explicit] : OBJECT_CANDIDATES) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error("{{name}}: probe.bpf.o not found (run `make` first)");
}

function parseArgs(argv: string[]): { pid: number; object?: string } {
  const args: { pid: number; object?: string } = { pid: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--pid" && value !== undefined && /^\d+$/.test(value)) args.pid = Number(value);
    else if (flag === "--object" && value !== undefined) args.object = value;
    else throw new Error("usage: {{name}} [--pid PID] [--object probe.bpf.o]");
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const obj = bpf.openFile(findObject(args.object), null);
  if (!obj) fail("opening the eBPF object");
  const links: unknown[] = [];
  let ring: unknown = null;
  let callback: unknown = null;
  try {
    const err = bpf.load(obj);
    if (err !== 0) fail("loading into the kernel", err);
    for (let prog = bpf.nextProgram(obj, null); prog; prog = bpf.nextProgram(obj, prog)) {
      const link = bpf.attach(prog);
      if (!link) fail(`attaching ${bpf.programName(prog)}`);
      links.push(link);
    }
    callback = koffi.register((_ctx: unknown, data: unknown, size: number) => {
      if (size < koffi.sizeof(Event)) return 0;
      const event = koffi.decode(data, Event);
      if (!args.pid || event.pid === args.pid) {
        process.stdout.write(`${String(event.pid).padEnd(8)} ${event.comm.padEnd(16)} ${event.filename}\n`);
      }
      return 0;
    }, koffi.pointer(SampleFn));
    ring = bpf.ringNew(bpf.mapFd(obj, "events"), callback, null, null);
    if (!ring) fail("opening the ring buffer");
    let stopping = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => { stopping = true; });
    process.stderr.write("attached: tracing openat() calls, Ctrl-C to stop\n");
    while (!stopping) {
      const polled = bpf.ringPoll(ring, 100);
      if (polled < 0 && polled !== -4 /* EINTR */) fail("polling", polled);
      await new Promise((resolve) => setImmediate(resolve));  // lets signal handlers run
    }
  } finally {
    if (ring) bpf.ringFree(ring);
    if (callback) koffi.unregister(callback as bigint);
    for (const link of links) bpf.destroyLink(link);
    bpf.close(obj);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
