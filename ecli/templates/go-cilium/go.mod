module {{name}}

go 1.23

require github.com/cilium/ebpf v0.19.0
