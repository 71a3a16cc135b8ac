"""Metrics: a running program's maps exported to Prometheus and OpenTelemetry.

`ecli run --metrics ADDR` and `--otel-endpoint URL`. Above the runtime (it
reads maps through `ecli.runtime.maps`) and the network (OTLP goes through
`ecli.net`); the runner knows it only as a `MapWatcher`:

    families    the metric model: families of counters, gauges and histograms
    exposition  the one writer of Prometheus text and OpenMetrics
    labels      label decoders (ksym, errno, syscall, ipv4/ipv6, cgroup, ...)
    collect     maps -> families, by the package's [metrics] table or by map names;
                the series cap, hex labels for keys that cannot be decoded
    server      /metrics on socketserver, from a thread, reading maps on scrape
    otlp        OTLP/HTTP pushes (protobuf or JSON) every interval, bounded retries
    exporter    one run's exporter: binds before loading, starts once loaded
"""
