// The module path: change it to where the code lives. A bare name could be one Go
// reserves (tool, std, cmd, all), so it starts with example.com/.
module example.com/{{name}}

go 1.23.0

require github.com/cilium/ebpf v0.19.0

require golang.org/x/sys v0.31.0 // indirect
