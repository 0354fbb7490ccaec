/*
 * Interoperability client for the SMPP HLR Gateway, built on libsmpp34
 * (Debian package libsmpp34-dev, 1.14). libsmpp34 only packs and unpacks
 * PDUs; this program owns the socket. It runs one scenario against a gateway
 * and prints one JSON object per line on stdout, for example
 *   {"step":"bind_transceiver","status":0,"sequence_number":1,...}
 * It exits 1 when the peer breaks the protocol as seen from here (no response
 * before the deadline, the connection lost while waiting, a response that
 * does not match its request, a PDU libsmpp34 cannot unpack) and 2 on a bad
 * command line. Whether a status is the RIGHT one is left to the caller (the
 * Go harness in test/interop).
 *
 * Build: gcc -O2 -Wall -I/usr/include/libsmpp34 -o smpp_client smpp_client.c -lsmpp34
 *
 * Usage:
 *   smpp_client --scenario NAME [--host H] [--port P] [--system-id ID]
 *               [--password PW] [--timeout SECONDS] [--receipt-wait SECONDS]
 *               [--destination MSISDN] [--count N] [--interface-version V]
 * Every option falls back to an environment variable: SMPP_HOST, SMPP_PORT,
 * SMPP_SYSTEM_ID, SMPP_PASSWORD, SCENARIO, CLIENT_TIMEOUT, RECEIPT_WAIT,
 * DESTINATION, COUNT, INTERFACE_VERSION.
 *
 * Scenarios: bind_transmitter bind_receiver bind_transceiver wrong_password
 * unknown_system_id second_bind submit_before_bind submit_on_receiver
 * unknown_command enquire_link unbind submit_valid submit_invalid
 * receipt_via_receiver burst
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "smpp34.h"
#include "smpp34_structs.h"
#include "smpp34_params.h"

extern int smpp34_errno;
extern char smpp34_strerror[2048];

/* Numbers of the gateway's HLR simulator. */
#define VALID_NUMBER "13476841841"      /* live subscriber: 0x0B, no receipt */
#define INVALID_NUMBER "40722570240999" /* invalid: accepted, DELIVRD receipt */
#define SOURCE_NUMBER "447700900123"

/* An id no SMPP version defines: the gateway must answer generic_nack 0x03. */
#define UNKNOWN_COMMAND_ID 0x00000077u

#define MAX_PDU 4096

static struct {
	const char *host, *port, *system_id, *password, *scenario, *destination;
	double timeout, receipt_wait;
	int count, interface_version;
} opt;

static uint32_t next_seq = 1;
static int receipts;

/* ---- JSON output -------------------------------------------------------- */

struct json {
	char buf[16384];
	size_t n;
};

static void j_raw(struct json *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (j->n < sizeof(j->buf)) {
		int w = vsnprintf(j->buf + j->n, sizeof(j->buf) - j->n, fmt, ap);
		if (w > 0)
			j->n += (size_t)w;
	}
	va_end(ap);
	if (j->n > sizeof(j->buf))
		j->n = sizeof(j->buf);
}

static void j_key(struct json *j, const char *key)
{
	j_raw(j, "%s\"%s\":", j->n > 1 ? "," : "", key);
}

/* Bytes outside printable ASCII are written as \u00XX (Latin-1). */
static void j_str(struct json *j, const char *key, const char *s, size_t len)
{
	j_key(j, key);
	j_raw(j, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			j_raw(j, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			j_raw(j, "\\u%04x", c);
		else
			j_raw(j, "%c", c);
	}
	j_raw(j, "\"");
}

static void j_cstr(struct json *j, const char *key, const char *s)
{
	j_str(j, key, s, strlen(s));
}

static void j_num(struct json *j, const char *key, long long v)
{
	j_key(j, key);
	j_raw(j, "%lld", v);
}

static void j_bool(struct json *j, const char *key, int v)
{
	j_key(j, key);
	j_raw(j, v ? "true" : "false");
}

static void j_begin(struct json *j, const char *step)
{
	j->n = 0;
	j_raw(j, "{");
	j_cstr(j, "step", step);
}

static void j_end(struct json *j)
{
	printf("%.*s}\n", (int)j->n, j->buf);
	fflush(stdout);
}

static void fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct json j;
	j_begin(&j, "error");
	j_cstr(&j, "error", msg);
	j_end(&j);
	exit(1);
}

static const char *cname(uint32_t id)
{
	static char b[16];
	switch (id) {
	case GENERIC_NACK: return "generic_nack";
	case BIND_RECEIVER: return "bind_receiver";
	case BIND_RECEIVER_RESP: return "bind_receiver_resp";
	case BIND_TRANSMITTER: return "bind_transmitter";
	case BIND_TRANSMITTER_RESP: return "bind_transmitter_resp";
	case SUBMIT_SM: return "submit_sm";
	case SUBMIT_SM_RESP: return "submit_sm_resp";
	case DELIVER_SM: return "deliver_sm";
	case DELIVER_SM_RESP: return "deliver_sm_resp";
	case UNBIND: return "unbind";
	case UNBIND_RESP: return "unbind_resp";
	case BIND_TRANSCEIVER: return "bind_transceiver";
	case BIND_TRANSCEIVER_RESP: return "bind_transceiver_resp";
	case ENQUIRE_LINK: return "enquire_link";
	case ENQUIRE_LINK_RESP: return "enquire_link_resp";
	}
	snprintf(b, sizeof(b), "0x%08X", id);
	return b;
}

/* Sorted tags of an unpacked TLV list (libsmpp34 builds it in reverse). */
static void j_tlv_tags(struct json *j, tlv_t *list)
{
	int tags[64], n = 0;
	tlv_t *t;
	smpp34_tlv_for_each(t, list)
	{
		if (n < 64)
			tags[n++] = t->tag;
	}
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && tags[b - 1] > tags[b]; b--) {
			int x = tags[b];
			tags[b] = tags[b - 1];
			tags[b - 1] = x;
		}
	j_key(j, "tlv_tags");
	j_raw(j, "[");
	for (int i = 0; i < n; i++)
		j_raw(j, "%s%d", i ? "," : "", tags[i]);
	j_raw(j, "]");
}

/* ---- Socket ------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_smpp(void)
{
	struct addrinfo hints = {0}, *res, *ai;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(opt.host, opt.port, &hints, &res);
	if (rc != 0)
		fail("resolve %s:%s: %s", opt.host, opt.port, gai_strerror(rc));
	int fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {(time_t)opt.timeout, 0};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fail("connect to %s:%s failed: %s", opt.host, opt.port, strerror(errno));
	struct json j;
	j_begin(&j, "connect");
	j_bool(&j, "ok", 1);
	j_end(&j);
	return fd;
}

static void send_bytes(int fd, const uint8_t *b, int len)
{
	while (len > 0) {
		ssize_t w = send(fd, b, (size_t)len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail("send: %s", strerror(errno));
		b += w;
		len -= (int)w;
	}
}

/* Packs a libsmpp34 PDU structure (command_length 0: computed). */
static int pack_pdu(uint8_t *buf, int size, void *pdu)
{
	int len = 0;
	if (smpp34_pack2(buf, size, &len, pdu) != 0)
		fail("libsmpp34 cannot pack %s: %s", cname(*((uint32_t *)pdu + 1)), smpp34_strerror);
	return len;
}

static void send_pdu(int fd, void *pdu)
{
	uint8_t buf[MAX_PDU];
	send_bytes(fd, buf, pack_pdu(buf, sizeof(buf), pdu));
}

/* Reads exactly n bytes before the deadline: 1 done, 0 timeout, -1 EOF. */
static int read_full(int fd, uint8_t *b, size_t n, double deadline)
{
	while (n > 0) {
		double left = deadline - now();
		if (left <= 0)
			return 0;
		struct pollfd p = {fd, POLLIN, 0};
		int rc = poll(&p, 1, (int)(left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			fail("poll: %s", strerror(errno));
		if (rc == 0)
			continue;
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 1;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

struct raw {
	uint8_t buf[MAX_PDU + 256]; /* zero past the PDU: libsmpp34 uses strlen */
	uint32_t len, id, status, seq;
};

/*
 * Reads one PDU within timeout seconds: 1 got one, 0 timeout, -1 EOF. Once
 * the first byte arrived, the rest must follow within the client timeout.
 */
static int read_raw(int fd, double timeout, struct raw *r)
{
	memset(r, 0, sizeof(*r));
	int rc = read_full(fd, r->buf, 1, now() + timeout);
	if (rc <= 0)
		return rc;
	double deadline = now() + opt.timeout;
	if ((rc = read_full(fd, r->buf + 1, 15, deadline)) <= 0)
		fail("connection %s in the middle of a PDU header", rc ? "closed" : "stalled");
	r->len = be32(r->buf);
	r->id = be32(r->buf + 4);
	r->status = be32(r->buf + 8);
	r->seq = be32(r->buf + 12);
	if (r->len < 16 || r->len > MAX_PDU)
		fail("PDU command_length %u out of range (command_id 0x%08X)", r->len, r->id);
	if ((rc = read_full(fd, r->buf + 16, r->len - 16, deadline)) <= 0)
		fail("connection %s in the middle of a PDU body", rc ? "closed" : "stalled");
	return 1;
}

/* ---- PDUs from the gateway ---------------------------------------------- */

static void answer_header(int fd, uint32_t id, uint32_t seq)
{
	enquire_link_resp_t resp; /* a header-only PDU */
	memset(&resp, 0, sizeof(resp));
	resp.command_id = id;
	resp.sequence_number = seq;
	send_pdu(fd, &resp);
}

static void on_deliver_sm(int fd, struct raw *r)
{
	deliver_sm_t d;
	memset(&d, 0, sizeof(d));
	if (smpp34_unpack2(&d, r->buf, (int)r->len) != 0)
		fail("libsmpp34 cannot unpack deliver_sm (seq %u): %s", r->seq, smpp34_strerror);
	struct json j;
	j_begin(&j, "deliver_sm");
	j_num(&j, "sequence_number", d.sequence_number);
	j_num(&j, "esm_class", d.esm_class);
	j_cstr(&j, "source_addr", (char *)d.source_addr);
	j_cstr(&j, "destination_addr", (char *)d.destination_addr);
	j_str(&j, "short_message", (char *)d.short_message, d.sm_length);
	j_num(&j, "data_coding", d.data_coding);
	tlv_t *t;
	smpp34_tlv_for_each(t, d.tlv)
	{
		if (t->tag == TLVID_receipted_message_id) {
			size_t n = t->length;
			while (n > 0 && t->value.octet[n - 1] == 0)
				n--;
			j_str(&j, "receipted_message_id", (char *)t->value.octet, n);
		} else if (t->tag == TLVID_message_state) {
			j_num(&j, "message_state", t->value.val08);
		}
	}
	j_tlv_tags(&j, d.tlv);
	j_end(&j);
	destroy_tlv(d.tlv);
	receipts++;

	deliver_sm_resp_t resp;
	memset(&resp, 0, sizeof(resp));
	resp.command_id = DELIVER_SM_RESP;
	resp.sequence_number = d.sequence_number;
	send_pdu(fd, &resp);
}

/*
 * Reads the next PDU within timeout seconds and answers the gateway's own
 * requests (enquire_link, deliver_sm, unbind). Returns 1 with the PDU in r,
 * 0 on a timeout, -1 on EOF.
 */
static int next_pdu(int fd, double timeout, struct raw *r)
{
	int rc = read_raw(fd, timeout, r);
	if (rc <= 0)
		return rc;
	switch (r->id) {
	case ENQUIRE_LINK:
		answer_header(fd, ENQUIRE_LINK_RESP, r->seq);
		break;
	case DELIVER_SM:
		on_deliver_sm(fd, r);
		break;
	case UNBIND: {
		struct json j;
		j_begin(&j, "unbind_from_server");
		j_num(&j, "sequence_number", r->seq);
		j_end(&j);
		answer_header(fd, UNBIND_RESP, r->seq);
		break;
	}
	}
	return 1;
}

/* The body of a response as libsmpp34 unpacks it. */
union resp_body {
	bind_transceiver_resp_t bind; /* the three bind responses share a layout */
	submit_sm_resp_t submit;
	generic_nack_t header;
};

/* Emits a response that answers nothing this client is waiting for. */
static void report_unexpected(const struct raw *r)
{
	struct json j;
	j_begin(&j, "unexpected_response");
	j_cstr(&j, "command", cname(r->id));
	j_num(&j, "command_id", r->id);
	j_num(&j, "status", r->status);
	j_num(&j, "sequence_number", r->seq);
	j_end(&j);
}

/*
 * Waits for the response with sequence number seq; it must carry want or
 * generic_nack. Emits it under the name step (with one extra string field
 * when extra_key is set) and returns its command_status.
 */
static uint32_t wait_resp_ex(int fd, const char *step, uint32_t seq, uint32_t want, const char *extra_key,
			     const char *extra_val, long long request_command_id, char *message_id, size_t mid_len)
{
	double deadline = now() + opt.timeout;
	struct raw r;
	for (;;) {
		double left = deadline - now();
		if (left <= 0)
			fail("no response to %s (seq %u) within %gs", step, seq, opt.timeout);
		int rc = next_pdu(fd, left, &r);
		if (rc == 0)
			continue;
		if (rc < 0)
			fail("connection closed while waiting for the response to %s (seq %u)", step, seq);
		if (!(r.id & 0x80000000u))
			continue;
		if (r.seq != seq) {
			report_unexpected(&r);
			continue;
		}
		if (r.id != want && r.id != GENERIC_NACK)
			fail("response to %s has command_id 0x%08X, want 0x%08X or generic_nack", step, r.id, want);
		break;
	}

	union resp_body b;
	memset(&b, 0, sizeof(b));
	int unpacked = smpp34_unpack(r.id, &b, r.buf, (int)r.len) == 0;
	/* libsmpp34 wants a system_id even in a failed bind's response; a bare
	 * header is what SMPP 3.4 asks for there, so only the header is read. */
	if (!unpacked && !(r.status != 0 && r.len == 16))
		fail("libsmpp34 cannot unpack the response to %s (%s, %u bytes): %s", step, cname(r.id), r.len,
		     smpp34_strerror);

	struct json j;
	j_begin(&j, step);
	j_cstr(&j, "command", cname(r.id));
	j_num(&j, "command_id", r.id);
	j_num(&j, "status", r.status);
	j_num(&j, "sequence_number", r.seq);
	j_num(&j, "request_sequence_number", seq);
	j_num(&j, "body_length", (long long)r.len - 16);
	j_bool(&j, "unpacked", unpacked);
	if (extra_key)
		j_cstr(&j, extra_key, extra_val);
	if (request_command_id >= 0)
		j_num(&j, "request_command_id", request_command_id);
	tlv_t *tlvs = NULL;
	if (unpacked) {
		switch (r.id) {
		case BIND_RECEIVER_RESP:
		case BIND_TRANSMITTER_RESP:
		case BIND_TRANSCEIVER_RESP:
			if (b.bind.system_id[0])
				j_cstr(&j, "system_id", (char *)b.bind.system_id);
			tlvs = b.bind.tlv;
			break;
		case SUBMIT_SM_RESP:
			if (b.submit.message_id[0])
				j_cstr(&j, "message_id", (char *)b.submit.message_id);
			if (message_id)
				snprintf(message_id, mid_len, "%s", (char *)b.submit.message_id);
			break;
		}
	}
	j_tlv_tags(&j, tlvs);
	j_end(&j);
	destroy_tlv(tlvs);
	return r.status;
}

static uint32_t wait_resp(int fd, const char *step, uint32_t seq, uint32_t want)
{
	return wait_resp_ex(fd, step, seq, want, NULL, NULL, -1, NULL, 0);
}

/* ---- Requests ----------------------------------------------------------- */

static uint32_t do_bind(int fd, uint32_t cmd, const char *step, const char *system_id, const char *password)
{
	bind_transceiver_t req; /* the three bind requests share a layout */
	memset(&req, 0, sizeof(req));
	req.command_id = cmd;
	req.sequence_number = next_seq++;
	snprintf((char *)req.system_id, sizeof(req.system_id), "%s", system_id);
	snprintf((char *)req.password, sizeof(req.password), "%s", password);
	snprintf((char *)req.system_type, sizeof(req.system_type), "%s", "interop");
	req.interface_version = SMPP_VERSION;
	uint8_t buf[MAX_PDU];
	int len = pack_pdu(buf, sizeof(buf), &req);
	/* libsmpp34 packs no interface_version but 0x34; any other is set in
	 * the packed PDU, after system_id, password and system_type. */
	size_t at = 16 + strlen((char *)req.system_id) + strlen((char *)req.password) +
		    strlen((char *)req.system_type) + 3;
	if (at >= (size_t)len || buf[at] != SMPP_VERSION)
		fail("packed bind has no interface_version at offset %zu", at);
	buf[at] = (uint8_t)opt.interface_version;
	send_bytes(fd, buf, len);
	return wait_resp(fd, step, req.sequence_number, cmd | 0x80000000u);
}

static void must_bind(int fd, uint32_t cmd)
{
	uint32_t st = do_bind(fd, cmd, cname(cmd), opt.system_id, opt.password);
	if (st != 0)
		fail("%s refused with status 0x%08X", cname(cmd), st);
}

static uint32_t send_submit(int fd, const char *dest)
{
	static const char text[] = "interop test from libsmpp34";
	submit_sm_t req;
	memset(&req, 0, sizeof(req));
	req.command_id = SUBMIT_SM;
	req.sequence_number = next_seq++;
	req.source_addr_ton = TON_International;
	req.source_addr_npi = NPI_ISDN_E163_E164;
	snprintf((char *)req.source_addr, sizeof(req.source_addr), "%s", SOURCE_NUMBER);
	req.dest_addr_ton = TON_International;
	req.dest_addr_npi = NPI_ISDN_E163_E164;
	snprintf((char *)req.destination_addr, sizeof(req.destination_addr), "%s", dest);
	req.registered_delivery = SMPP34_DELIVERY_RECEIPT_ON;
	req.sm_length = sizeof(text) - 1;
	memcpy(req.short_message, text, req.sm_length);
	send_pdu(fd, &req);
	return req.sequence_number;
}

static uint32_t do_submit(int fd, const char *step, const char *dest, char *message_id, size_t mid_len)
{
	uint32_t seq = send_submit(fd, dest);
	return wait_resp_ex(fd, step, seq, SUBMIT_SM_RESP, "destination", dest, -1, message_id, mid_len);
}

static void do_enquire_link(int fd)
{
	enquire_link_t req;
	memset(&req, 0, sizeof(req));
	req.command_id = ENQUIRE_LINK;
	req.sequence_number = next_seq++;
	send_pdu(fd, &req);
	wait_resp(fd, "enquire_link", req.sequence_number, ENQUIRE_LINK_RESP);
}

static void do_unbind(int fd)
{
	unbind_t req;
	memset(&req, 0, sizeof(req));
	req.command_id = UNBIND;
	req.sequence_number = next_seq++;
	send_pdu(fd, &req);
	wait_resp(fd, "unbind", req.sequence_number, UNBIND_RESP);
}

/* Waits up to wait seconds for receipts; returns early once want arrived. */
static int wait_receipts(int fd, double wait, int want)
{
	double deadline = now() + wait;
	struct raw r;
	while (receipts < want) {
		double left = deadline - now();
		if (left <= 0)
			break;
		if (next_pdu(fd, left, &r) < 0)
			fail("connection closed while waiting for receipts");
	}
	return receipts;
}

static void emit_receipts(int n)
{
	struct json j;
	j_begin(&j, "receipts");
	j_num(&j, "count", n);
	j_end(&j);
}

static void finish(int fd)
{
	if (fd >= 0)
		close(fd);
	struct json j;
	j_begin(&j, "done");
	j_bool(&j, "ok", 1);
	j_end(&j);
	exit(0);
}

static const char *dest_or(const char *def)
{
	return opt.destination[0] ? opt.destination : def;
}

/* ---- Scenarios ---------------------------------------------------------- */

static void bind_mode(uint32_t cmd)
{
	int fd = connect_smpp();
	must_bind(fd, cmd);
	do_enquire_link(fd);
	do_unbind(fd);
	finish(fd);
}

static void scenario(const char *name)
{
	int fd;
	char mid[80] = "";
	if (!strcmp(name, "bind_transmitter")) {
		bind_mode(BIND_TRANSMITTER);
	} else if (!strcmp(name, "bind_receiver")) {
		bind_mode(BIND_RECEIVER);
	} else if (!strcmp(name, "bind_transceiver")) {
		bind_mode(BIND_TRANSCEIVER);
	} else if (!strcmp(name, "wrong_password")) {
		fd = connect_smpp();
		do_bind(fd, BIND_TRANSCEIVER, "bind_transceiver", opt.system_id, "wrongpw");
		finish(fd);
	} else if (!strcmp(name, "unknown_system_id")) {
		fd = connect_smpp();
		do_bind(fd, BIND_TRANSCEIVER, "bind_transceiver", "nosuchuser", opt.password);
		finish(fd);
	} else if (!strcmp(name, "second_bind")) {
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		do_bind(fd, BIND_TRANSMITTER, "second_bind", opt.system_id, opt.password);
		finish(fd);
	} else if (!strcmp(name, "submit_before_bind")) {
		fd = connect_smpp();
		do_submit(fd, "submit_before_bind", dest_or(INVALID_NUMBER), NULL, 0);
		finish(fd);
	} else if (!strcmp(name, "submit_on_receiver")) {
		fd = connect_smpp();
		must_bind(fd, BIND_RECEIVER);
		do_submit(fd, "submit_on_receiver", dest_or(INVALID_NUMBER), NULL, 0);
		do_unbind(fd);
		finish(fd);
	} else if (!strcmp(name, "unknown_command")) {
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		/* libsmpp34 packs only the commands it knows: a bare header by hand. */
		const uint32_t seq = 4242;
		uint8_t h[16] = {0, 0, 0, 16};
		uint32_t id = UNKNOWN_COMMAND_ID;
		for (int i = 0; i < 4; i++) {
			h[4 + i] = (uint8_t)(id >> (24 - 8 * i));
			h[12 + i] = (uint8_t)(seq >> (24 - 8 * i));
		}
		send_bytes(fd, h, sizeof(h));
		wait_resp_ex(fd, "unknown_command", seq, 0x80000000u | UNKNOWN_COMMAND_ID, NULL, NULL,
			     UNKNOWN_COMMAND_ID, NULL, 0);
		do_enquire_link(fd); /* the session must still be usable */
		finish(fd);
	} else if (!strcmp(name, "enquire_link")) {
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		for (int i = 0; i < 3; i++)
			do_enquire_link(fd);
		finish(fd);
	} else if (!strcmp(name, "unbind")) {
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		do_unbind(fd);
		/* After unbind_resp the gateway should close the connection. */
		struct raw r;
		int closed = 0;
		double deadline = now() + opt.timeout;
		for (;;) {
			int rc = next_pdu(fd, deadline - now(), &r);
			if (rc < 0)
				closed = 1;
			if (rc <= 0)
				break;
		}
		struct json j;
		j_begin(&j, "after_unbind");
		j_bool(&j, "closed", closed);
		j_end(&j);
		finish(fd);
	} else if (!strcmp(name, "submit_valid")) {
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		do_submit(fd, "submit_sm", dest_or(VALID_NUMBER), NULL, 0);
		emit_receipts(wait_receipts(fd, opt.receipt_wait, 1));
		do_unbind(fd);
		finish(fd);
	} else if (!strcmp(name, "submit_invalid")) {
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		uint32_t st = do_submit(fd, "submit_sm", dest_or(INVALID_NUMBER), mid, sizeof(mid));
		int n = st == 0 ? wait_receipts(fd, opt.receipt_wait, 1) : 0;
		emit_receipts(n);
		if (st == 0 && n == 0)
			fail("no receipt arrived within %gs", opt.receipt_wait);
		do_unbind(fd);
		finish(fd);
	} else if (!strcmp(name, "receipt_via_receiver")) {
		/* Submit on a transmitter bind; the receipt comes to a receiver
		 * bind of the same system_id on another connection. */
		int rx = connect_smpp();
		must_bind(rx, BIND_RECEIVER);
		int tx = connect_smpp();
		must_bind(tx, BIND_TRANSMITTER);
		uint32_t st = do_submit(tx, "submit_sm", dest_or(INVALID_NUMBER), mid, sizeof(mid));
		int n = st == 0 ? wait_receipts(rx, opt.receipt_wait, 1) : 0;
		emit_receipts(n);
		if (st == 0 && n == 0)
			fail("no receipt arrived on the receiver within %gs", opt.receipt_wait);
		do_unbind(tx);
		do_unbind(rx);
		close(tx);
		finish(rx);
	} else if (!strcmp(name, "burst")) {
		/* --count submit_sm back to back without waiting, then every
		 * response: for the window and throughput limits. */
		fd = connect_smpp();
		must_bind(fd, BIND_TRANSCEIVER);
		int count = opt.count;
		if (count < 1 || count > 10000)
			fail("--count %d out of range", count);
		uint32_t first = next_seq;
		char *pending = calloc((size_t)count, 1);
		if (!pending)
			fail("out of memory");
		for (int i = 0; i < count; i++) {
			send_submit(fd, dest_or(VALID_NUMBER));
			pending[i] = 1;
		}
		int left_n = count;
		long long by_status[256] = {0}, other = 0;
		double deadline = now() + opt.timeout;
		struct raw r;
		while (left_n > 0) {
			double left = deadline - now();
			if (left <= 0)
				fail("%d of %d submit_sm got no response within %gs", left_n, count, opt.timeout);
			int rc = next_pdu(fd, left, &r);
			if (rc < 0)
				fail("connection closed during the burst");
			if (rc == 0 || !(r.id & 0x80000000u))
				continue;
			long idx = (long)r.seq - (long)first;
			if (idx < 0 || idx >= count || !pending[idx]) {
				report_unexpected(&r);
				continue;
			}
			pending[idx] = 0;
			left_n--;
			submit_sm_resp_t s;
			memset(&s, 0, sizeof(s));
			int unpacked = smpp34_unpack(r.id, &s, r.buf, (int)r.len) == 0;
			if (!unpacked)
				fail("libsmpp34 cannot unpack a burst response (%s, %u bytes): %s", cname(r.id), r.len,
				     smpp34_strerror);
			struct json j;
			j_begin(&j, "burst_submit");
			j_cstr(&j, "command", cname(r.id));
			j_num(&j, "command_id", r.id);
			j_num(&j, "status", r.status);
			j_num(&j, "sequence_number", r.seq);
			j_num(&j, "request_sequence_number", r.seq);
			j_num(&j, "body_length", (long long)r.len - 16);
			if (s.message_id[0])
				j_cstr(&j, "message_id", (char *)s.message_id);
			j_end(&j);
			if (r.status < 256)
				by_status[r.status]++;
			else
				other++;
		}
		free(pending);
		struct json j;
		j_begin(&j, "burst");
		j_num(&j, "count", count);
		j_key(&j, "statuses");
		j_raw(&j, "{");
		int first_key = 1;
		for (int s = 0; s < 256; s++)
			if (by_status[s]) {
				j_raw(&j, "%s\"%d\":%lld", first_key ? "" : ",", s, by_status[s]);
				first_key = 0;
			}
		if (other)
			j_raw(&j, "%s\"other\":%lld", first_key ? "" : ",", other);
		j_raw(&j, "}");
		j_end(&j);
		wait_receipts(fd, 1, 1 << 30); /* answer any receipts before leaving */
		do_unbind(fd);
		finish(fd);
	} else {
		fprintf(stderr, "unknown scenario '%s'\n", name);
		exit(2);
	}
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	opt.host = env_or("SMPP_HOST", "127.0.0.1");
	opt.port = env_or("SMPP_PORT", "2776");
	opt.system_id = env_or("SMPP_SYSTEM_ID", "testuser");
	opt.password = env_or("SMPP_PASSWORD", "testpass");
	opt.scenario = env_or("SCENARIO", "");
	opt.destination = env_or("DESTINATION", "");
	opt.timeout = atof(env_or("CLIENT_TIMEOUT", "10"));
	opt.receipt_wait = atof(env_or("RECEIPT_WAIT", "10"));
	opt.count = atoi(env_or("COUNT", "20"));
	opt.interface_version = (int)strtol(env_or("INTERFACE_VERSION", "0x34"), NULL, 0);

	static const struct option longopts[] = {
		{"host", required_argument, 0, 'h'},
		{"port", required_argument, 0, 'p'},
		{"system-id", required_argument, 0, 's'},
		{"password", required_argument, 0, 'w'},
		{"scenario", required_argument, 0, 'c'},
		{"timeout", required_argument, 0, 't'},
		{"receipt-wait", required_argument, 0, 'r'},
		{"destination", required_argument, 0, 'd'},
		{"count", required_argument, 0, 'n'},
		{"interface-version", required_argument, 0, 'v'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 's': opt.system_id = optarg; break;
		case 'w': opt.password = optarg; break;
		case 'c': opt.scenario = optarg; break;
		case 't': opt.timeout = atof(optarg); break;
		case 'r': opt.receipt_wait = atof(optarg); break;
		case 'd': opt.destination = optarg; break;
		case 'n': opt.count = atoi(optarg); break;
		case 'v': opt.interface_version = (int)strtol(optarg, NULL, 0); break;
		default: fprintf(stderr, "bad command line\n"); return 2;
		}
	}
	if (optind != argc || opt.timeout <= 0 || opt.receipt_wait < 0) {
		fprintf(stderr, "bad command line\n");
		return 2;
	}
	scenario(opt.scenario);
	return 0;
}
