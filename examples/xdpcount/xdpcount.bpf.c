// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// xdpcount: count the packets arriving on an interface by IP protocol, at the XDP hook.
// Passes every packet on: it only counts.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* The IP protocol of a packet (numbers as in /etc/protocols). */
enum ip_protocol {
	OTHER = 0,
	ICMP = 1,
	TCP = 6,
	UDP = 17,
	ICMPV6 = 58,
	NON_IP = 255,
};

struct proto_key {
	enum ip_protocol proto;
};

struct counts {
	u64 packets;
	u64 bytes;
};

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, struct proto_key);
	__type(value, struct counts);
} packet_counts SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct proto_key key = { .proto = NON_IP };
	struct counts *c, fresh = {};

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		key.proto = ip->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		key.proto = ip6->nexthdr;
	}
	c = bpf_map_lookup_elem(&packet_counts, &key);
	if (!c) {
		bpf_map_update_elem(&packet_counts, &key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&packet_counts, &key);
		if (!c)
			return XDP_PASS;
	}
	c->packets++;
	c->bytes += data_end - data;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
