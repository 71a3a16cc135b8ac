// SPDX-License-Identifier: BSD-3-Clause
package app;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.File;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {{name}}: load probe.bpf.o with libbpf (through JNA), attach it, print each event. */
public final class Main {
    private static final int COMM_LEN = 16;
    private static final int PATH_LEN = 256;
    /** sizeof(struct event) of src/bpf/probe.bpf.c: keep the two in step. */
    private static final int EVENT_SIZE = 4 + COMM_LEN + PATH_LEN;
    private static final int EINTR = 4;

    /** The part of libbpf.so.1 this program calls (Debian/Ubuntu: libbpf1). */
    public interface LibBpf extends Library {
        LibBpf INSTANCE = Native.load("libbpf.so.1", LibBpf.class);

        /** int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size) */
        interface SampleFn extends Callback {
            int invoke(Pointer ctx, Pointer data, long size);
        }

        Pointer bpf_object__open_file(String path, Pointer opts);
        int bpf_object__load(Pointer obj);
        void bpf_object__close(Pointer obj);
        Pointer bpf_object__next_program(Pointer obj, Pointer prev);
        String bpf_program__name(Pointer prog);
        Pointer bpf_program__attach(Pointer prog);
        int bpf_link__destroy(Pointer link);
        int bpf_object__find_map_fd_by_name(Pointer obj, String name);
        Pointer ring_buffer__new(int fd, SampleFn sample, Pointer ctx, Pointer opts);
        int ring_buffer__poll(Pointer ring, int timeoutMs);
        void ring_buffer__free(Pointer ring);
        int libbpf_strerror(int err, byte[] buf, long size);
    }

    private static volatile boolean stopping;

    private Main() {
    }

    /** One line naming what failed and the C error (libbpf returns -errno). */
    private static RuntimeException fail(String what, int code) {
        byte[] text = new byte[128];
        LibBpf.INSTANCE.libbpf_strerror(Math.abs(code), text, text.length);
        return new IllegalStateException("{{name}}: " + what + ": " + Native.toString(text));
    }

    /** Bundle: lib/{{name}}.jar beside lib/probe.bpf.o; project: target/lib/ and build/. */
    private static Path findObject(String explicit) throws URISyntaxException {
        Path jarDir = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .getParent();
        List<Path> candidates = explicit != null ? List.of(Path.of(explicit))
                : List.of(jarDir.resolve("probe.bpf.o"), jarDir.resolve("../../build/probe.bpf.o"));
        for (Path candidate : candidates) {
            if (Files.isRegularFile(candidate)) {
                return candidate.normalize();
            }
        }
        throw new IllegalStateException("{{name}}: probe.bpf.o not found (run `make` first)");
    }

    private static String cString(Pointer data, long offset, int max) {
        byte[] bytes = data.getByteArray(offset, max);
        int end = 0;
        while (end < max && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        long targetPid = 0;
        String object = null;
        for (int i = 0; i < args.length; i += 2) {
            if (i + 1 < args.length && args[i].equals("--pid") && args[i + 1].matches("\\d+")) {
                targetPid = Long.parseLong(args[i + 1]);
            } else if (i + 1 < args.length && args[i].equals("--object")) {
                object = args[i + 1];
            } else {
                System.err.println("usage: {{name}} [--pid PID] [--object probe.bpf.o]");
                System.exit(2);
            }
        }
        try {
            run(findObject(object), targetPid);
        } catch (IllegalStateException error) {
            System.err.println(error.getMessage());
            System.exit(1);
        }
    }

    private static void run(Path objectPath, long targetPid) throws InterruptedException {
        LibBpf bpf = LibBpf.INSTANCE;
        Pointer obj = bpf.bpf_object__open_file(objectPath.toString(), null);
        if (obj == null) {
            throw fail("opening " + objectPath, Native.getLastError());
        }
        List<Pointer> links = new ArrayList<>();
        Pointer ring = null;
        Thread main = Thread.currentThread();
        Thread hook = new Thread(() -> {
            stopping = true;  // Ctrl-C or SIGTERM: let the loop below detach cleanly
            try {
                main.join(2000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        LibBpf.SampleFn onSample = (ctx, data, size) -> {
            if (size >= EVENT_SIZE) {
                long pid = Integer.toUnsignedLong(data.getInt(0));
                if (targetPid == 0 || pid == targetPid) {
                    System.out.printf("%-8d %-16s %s%n", pid, cString(data, 4, COMM_LEN),
                            cString(data, 4 + COMM_LEN, PATH_LEN));
                    System.out.flush();
                }
            }
            return 0;
        };
        try {
            int err = bpf.bpf_object__load(obj);
            if (err != 0) {
                throw fail("loading into the kernel", err);
            }
            for (Pointer prog = bpf.bpf_object__next_program(obj, null); prog != null;
                    prog = bpf.bpf_object__next_program(obj, prog)) {
                Pointer link = bpf.bpf_program__attach(prog);
                if (link == null) {
                    throw fail("attaching " + bpf.bpf_program__name(prog), Native.getLastError());
                }
                links.add(link);
            }
            ring = bpf.ring_buffer__new(bpf.bpf_object__find_map_fd_by_name(obj, "events"),
                    onSample, null, null);
            if (ring == null) {
                throw fail("opening the ring buffer", Native.getLastError());
            }
            System.err.println("attached: tracing openat() calls, Ctrl-C to stop");
            while (!stopping) {
                int polled = bpf.ring_buffer__poll(ring, 100);
                if (polled < 0 && polled != -EINTR) {
                    throw fail("polling", polled);
                }
            }
        } finally {
            if (ring != null) {
                bpf.ring_buffer__free(ring);
            }
            for (Pointer link : links) {
                bpf.bpf_link__destroy(link);
            }
            bpf.bpf_object__close(obj);
        }
    }
}
