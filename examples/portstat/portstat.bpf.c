// SPDX-License-Identifier: GPL-2.0-only OR BSD-3-Clause
// portstat: packets and bytes per local TCP/UDP port on one network interface, in and out:
// which services the traffic is for. tc programs on ingress and egress (tcx links, or
// classic tc filters before Linux 6.6); every packet is passed on unchanged.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TC_ACT_OK 0

/* Options: ecli run portstat --ifname eth0 --port N */
const volatile u16 targ_port = 0;

enum direction { IN = 0, OUT = 1 };
enum l4_protocol { TCP = 6, UDP = 17 };

struct port_key {
	enum direction dir;
	enum l4_protocol proto;
	u16 port; /* the local end: destination port in, source port out */
};

struct counts {
	u64 packets;
	u64 bytes;
};

/* Printed at exit and every --interval: its name ends in _counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct port_key);
	__type(value, struct counts);
} port_counts SEC(".maps");

/* The L4 header's offset and protocol, for IPv4 (no options assumed beyond ihl) and IPv6
 * (no extension headers); 0 for anything else. */
static __always_inline u32 l4_offset(struct __sk_buff *skb, u8 *proto)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return 0;
		*proto = ip->protocol;
		return sizeof(*eth) + ip->ihl * 4;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return 0;
		*proto = ip6->nexthdr;
		return sizeof(*eth) + sizeof(*ip6);
	}
	return 0;
}

static __always_inline int count(struct __sk_buff *skb, enum direction dir)
{
	struct port_key key = { .dir = dir };
	struct counts *c, fresh = {};
	u16 ports[2]; /* source, destination: the same place in TCP and UDP */
	u8 proto = 0;
	u32 at = l4_offset(skb, &proto);

	if (!at || (proto != TCP && proto != UDP))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, at, ports, sizeof(ports)))
		return TC_ACT_OK;
	key.proto = proto;
	key.port = bpf_ntohs(dir == IN ? ports[1] : ports[0]);
	if (targ_port && targ_port != key.port)
		return TC_ACT_OK;
	c = bpf_map_lookup_elem(&port_counts, &key);
	if (!c) {
		bpf_map_update_elem(&port_counts, &key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&port_counts, &key);
		if (!c)
			return TC_ACT_OK;
	}
	c->packets++;
	c->bytes += skb->len;
	return TC_ACT_OK;
}

SEC("tc/ingress")
int count_ingress(struct __sk_buff *skb)
{
	return count(skb, IN);
}

SEC("tc/egress")
int count_egress(struct __sk_buff *skb)
{
	return count(skb, OUT);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
