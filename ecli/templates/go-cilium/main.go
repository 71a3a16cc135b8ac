// Command {{name}} loads the eBPF program, attaches it and prints each event.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

func cString(raw []int8) string {
	b := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

func main() {
	pid := flag.Uint("pid", 0, "trace only this process id (0: all)")
	flag.Parse()
	log.SetFlags(0)
	if err := rlimit.RemoveMemlock(); err != nil {
		log.Fatalf("{{name}}: %v", err)
	}
	spec, err := loadProbe()
	if err != nil {
		log.Fatalf("{{name}}: loading the eBPF spec: %v", err)
	}
	if err := spec.Variables["target_pid"].Set(uint32(*pid)); err != nil {
		log.Fatalf("{{name}}: setting target_pid: %v", err)
	}
	var objs probeObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		log.Fatalf("{{name}}: loading into the kernel: %v", err)
	}
	defer objs.Close()
	tp, err := link.Tracepoint("syscalls", "sys_enter_openat", objs.HandleOpenat, nil)
	if err != nil {
		log.Fatalf("{{name}}: attaching: %v", err)
	}
	defer tp.Close()
	reader, err := ringbuf.NewReader(objs.Events)
	if err != nil {
		log.Fatalf("{{name}}: opening the ring buffer: %v", err)
	}
	defer reader.Close()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		reader.Close()
	}()
	fmt.Fprintln(os.Stderr, "attached: tracing openat() calls, Ctrl-C to stop")
	var event probeEvent
	for {
		record, err := reader.Read()
		if errors.Is(err, ringbuf.ErrClosed) {
			return
		} else if err != nil {
			log.Fatalf("{{name}}: reading: %v", err)
		}
		if err := binary.Read(bytes.NewReader(record.RawSample), binary.NativeEndian, &event); err != nil {
			continue
		}
		fmt.Printf("%-8d %-16s %s\n", event.Pid, cString(event.Comm[:]), cString(event.Filename[:]))
	}
}
