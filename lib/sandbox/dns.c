/* kcsi detonate — the sinkhole's DNS: parse a query, build a well-formed
 * answer (RFC 1035 wire format).
 *
 * Every name exists and points at the sinkhole, so a specimen goes on to use
 * the answer (connect to it, read the TXT payload it expected):
 *   A      DET_SINK_ADDR
 *   AAAA   64:ff9b::c612:1 (DET_SINK_ADDR in the NAT64 well-known prefix;
 *          IPv6 is dropped in the sandbox, the lookup still succeeds)
 *   CNAME  sinkhole.kcsi.invalid.
 *   MX     10 sinkhole.kcsi.invalid.
 *   NS     sinkhole.kcsi.invalid.
 *   PTR    sinkhole.kcsi.invalid.
 *   TXT    "kcsi-sinkhole"
 *   SRV    0 0 PORT sinkhole.kcsi.invalid.
 *   ANY    the A and the TXT record
 *   other  NOERROR without records (NODATA) and an SOA in the authority
 *          section, as a real zone answers a type it does not hold
 * Malformed queries get FORMERR when a header can be echoed, else nothing.
 * Everything here works on the bytes given, with every read bounds-checked:
 * it is the part of the sinkhole a specimen controls (fuzzed). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sandbox_int.h"

#define DNS_HDR 12

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

int det_dns_parse(const unsigned char *m, size_t len, det_dns_query *q)
{
	size_t off = DNS_HDR, nl = 0;
	memset(q, 0, sizeof(*q));
	if (len < DNS_HDR)
		return -1;
	q->id = (uint16_t)(m[0] << 8 | m[1]);
	q->flags = (uint16_t)(m[2] << 8 | m[3]);
	q->qdcount = (uint16_t)(m[4] << 8 | m[5]);
	if (q->flags & 0x8000) /* a response, not a query */
		return -1;
	if (q->qdcount == 0)
		return -1;
	for (;;) {
		unsigned l;
		if (off >= len)
			return -1;
		l = m[off];
		if (l == 0)
			break;
		if (l > 63 || off + 1 + l >= len || q->nlabels >= DET_DNS_MAX_LABELS)
			return -1; /* compression pointers are not valid in a query's first name */
		if (nl + l + 2 > sizeof(q->name))
			return -1;
		if (nl)
			q->name[nl++] = '.';
		q->label_off[q->nlabels] = (uint16_t)nl;
		q->label_len[q->nlabels++] = (uint8_t)l;
		memcpy(q->name + nl, m + off + 1, l);
		nl += l;
		off += 1 + l;
	}
	q->name[nl] = '\0';
	q->name_len = nl;
	if (off + 5 > len)
		return -1;
	q->qtype = (uint16_t)(m[off + 1] << 8 | m[off + 2]);
	q->qclass = (uint16_t)(m[off + 3] << 8 | m[off + 4]);
	q->qend = off + 5;
	return 0;
}

const char *det_dns_type_name(unsigned t)
{
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 255: return "ANY";
	default: return "other";
	}
}

/* the target name of CNAME/MX/NS/PTR/SRV answers, in wire format */
static const unsigned char sink_name[] = "\x08sinkhole\x04kcsi\x07invalid";

struct rrbuf {
	unsigned char *p;
	size_t len, cap;
	bool full;
};

static void add(struct rrbuf *b, const void *d, size_t n)
{
	if (b->full || n > b->cap - b->len) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

/* one record for the question's name (a pointer to offset 12) */
static void rr(struct rrbuf *b, unsigned type, const void *rdata, size_t rdlen)
{
	unsigned char h[12] = {0xc0, DNS_HDR};
	put16(h + 2, type);
	put16(h + 4, 1);    /* IN */
	h[6] = h[7] = 0;
	put16(h + 8, 60);   /* TTL 60 s */
	put16(h + 10, (unsigned)rdlen);
	add(b, h, sizeof(h));
	add(b, rdata, rdlen);
}

size_t det_dns_answer(const unsigned char *m, size_t len, const det_dns_query *q, unsigned char *out, size_t cap,
		      char *text, size_t textcap)
{
	struct rrbuf b = {out, 0, cap, false};
	unsigned ancount = 0, nscount = 0;
	unsigned char hdr[DNS_HDR];
	if (len < DNS_HDR || cap < DNS_HDR + q->qend)
		return 0;
	text[0] = '\0';
	/* header, then the first question as asked */
	memcpy(hdr, m, 4);
	hdr[2] = (unsigned char)(0x84 | (m[2] & 0x01)); /* QR, AA, RD as asked */
	hdr[3] = 0x80;                                  /* RA, NOERROR */
	put16(hdr + 4, 1);
	memset(hdr + 6, 0, 6);
	add(&b, hdr, DNS_HDR);
	add(&b, m + DNS_HDR, q->qend - DNS_HDR);
	if (q->qclass != 1 && q->qclass != 255) {
		out[3] = 0x85; /* RA, REFUSED: only IN (and ANY) is served */
		snprintf(text, textcap, "REFUSED (class %u)", q->qclass);
		return b.len;
	}
	struct in_addr a4;
	inet_pton(AF_INET, DET_SINK_ADDR, &a4);
	unsigned char a6[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	memcpy(a6 + 12, &a4, 4);
	static const unsigned char txt[] = "\x0dkcsi-sinkhole";
	unsigned char mx[2 + sizeof(sink_name)] = {0, 10};
	unsigned char srv[6 + sizeof(sink_name)] = {0, 0, 0, 0, 0, 80};
	memcpy(mx + 2, sink_name, sizeof(sink_name));
	memcpy(srv + 6, sink_name, sizeof(sink_name));
	switch (q->qtype) {
	case 1:
		rr(&b, 1, &a4, 4), ancount = 1;
		snprintf(text, textcap, "A %s", DET_SINK_ADDR);
		break;
	case 28:
		rr(&b, 28, a6, 16), ancount = 1;
		snprintf(text, textcap, "AAAA 64:ff9b::c612:1");
		break;
	case 5:
	case 2:
	case 12:
		rr(&b, q->qtype, sink_name, sizeof(sink_name)), ancount = 1;
		snprintf(text, textcap, "%s sinkhole.kcsi.invalid", det_dns_type_name(q->qtype));
		break;
	case 15:
		rr(&b, 15, mx, sizeof(mx)), ancount = 1;
		snprintf(text, textcap, "MX 10 sinkhole.kcsi.invalid");
		break;
	case 16:
		rr(&b, 16, txt, sizeof(txt) - 1), ancount = 1;
		snprintf(text, textcap, "TXT \"kcsi-sinkhole\"");
		break;
	case 33:
		rr(&b, 33, srv, sizeof(srv)), ancount = 1;
		snprintf(text, textcap, "SRV 0 0 80 sinkhole.kcsi.invalid");
		break;
	case 255:
		rr(&b, 1, &a4, 4);
		rr(&b, 16, txt, sizeof(txt) - 1), ancount = 2;
		snprintf(text, textcap, "A %s, TXT \"kcsi-sinkhole\"", DET_SINK_ADDR);
		break;
	default: {
		/* NODATA: an SOA of the sinkhole's own in the authority section */
		unsigned char soa[2 * sizeof(sink_name) + 20];
		size_t k = 0;
		memcpy(soa + k, sink_name, sizeof(sink_name)), k += sizeof(sink_name);
		memcpy(soa + k, sink_name, sizeof(sink_name)), k += sizeof(sink_name);
		static const unsigned char nums[20] = {0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x02, 0x58,
						       0, 0x09, 0x3a, 0x80, 0, 0, 0, 60};
		memcpy(soa + k, nums, sizeof(nums)), k += sizeof(nums);
		rr(&b, 6, soa, k), nscount = 1;
		snprintf(text, textcap, "NODATA (type %u)", q->qtype);
	}
	}
	if (b.full)
		return 0;
	put16(out + 6, ancount);
	put16(out + 8, nscount);
	return b.len;
}

size_t det_dns_formerr(const unsigned char *m, size_t len, unsigned char *out, size_t cap)
{
	if (len < 4 || cap < DNS_HDR || (m[2] & 0x80))
		return 0;
	memset(out, 0, DNS_HDR);
	memcpy(out, m, 2);
	out[2] = (unsigned char)(0x80 | (m[2] & 0x79)); /* QR, opcode and RD as asked */
	out[3] = 0x81;                                   /* RA, FORMERR */
	return DNS_HDR;
}
