/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verdict.h - the three things the tap program does with a frame, each counted once
 *
 * bp_pass(): the frame goes on to the tap unchanged and the daemon reads it (TC_ACT_OK).
 * bp_drop(): the frame is discarded (TC_ACT_STOLEN: silently, as the daemon would; TC_ACT_SHOT
 *   would make the sender's write fail with ENOBUFS); only for frames the daemon would discard too,
 *   each with its reason counter.
 * bp_answer(): the frame has been rewritten in place into our answer; it is sent back into the
 *   namespace as if it had arrived on the tap (bpf_redirect with BPF_F_INGRESS to the tap itself,
 *   whose ifindex is skb->ifindex at egress), and never reaches the daemon.
 */
#ifndef BPASST_BPF_VERDICT_H
#define BPASST_BPF_VERDICT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/maps.h"

static __always_inline int bp_pass(void)
{
	bp_count(BP_TAP_CNT_PASSED);
	return TC_ACT_OK;
}

static __always_inline int bp_drop(enum bp_tap_counter reason)
{
	bp_count(BP_TAP_CNT_DROPPED);
	bp_count(reason);
	return TC_ACT_STOLEN;
}

static __always_inline int bp_answer(struct __sk_buff *skb, enum bp_tap_counter answered)
{
	bp_count(answered);
	return (int)bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* An answerer's result before it becomes a verdict: BP_NOT_MINE (pass the frame on), BP_DONE
 * (answer written: redirect it), or a drop reason (an enum bp_tap_counter). */
#define BP_NOT_MINE (-1)
#define BP_DONE (-2)

#endif /* BPASST_BPF_VERDICT_H */
