/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_resolv.c - unit tests for io/resolv.c (resolv.conf parsing and how it completes a config)
 *
 * Parsing: nameserver lines (IPv4, IPv6, IPv6 with a zone, junk, too many), comments with '#'
 * and ';' (whole-line and trailing), CRLF line ends and a last line without '\n', search/domain
 * (the last one wins, trailing dots dropped, over-long or hostile domains refused, at most
 * CONF_MAX_SEARCH kept), unknown keywords and options ignored, a NUL-free buffer that is not
 * terminated, and arbitrary bytes (every prefix of a hostile text, a pseudo-random buffer) without
 * a crash. Policy: loopback/link-local/scoped/unspecified resolvers are not used, -D/-S and
 * "none" take precedence over the file, disabled families get no servers. resolv_read() on a
 * temporary file and on a missing one.
 *
 * Every check prints the failing expression with file:line and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "io/resolv.h"

#include "check.h"

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		checks++;                                                                          \
		if (strcmp((a), (b))) {                                                            \
			fprintf(stderr, "%s:%d: check failed: \"%s\" == \"%s\"\n", __FILE__,       \
				__LINE__, (a), (b));                                               \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static void parse(const char *text, struct resolv_conf *rc)
{
	resolv_parse(text, strlen(text), rc);
}

static bool is_v4(const struct resolv_ns *ns, const char *s)
{
	struct in_addr a;

	return ns->af == AF_INET && inet_pton(AF_INET, s, &a) == 1 &&
		a.s_addr == ns->addr.v4.s_addr;
}

static bool is_v6(const struct resolv_ns *ns, const char *s)
{
	struct in6_addr a;

	return ns->af == AF_INET6 && inet_pton(AF_INET6, s, &a) == 1 &&
		!memcmp(&a, &ns->addr.v6, sizeof(a));
}

static void test_nameservers(void)
{
	struct resolv_conf rc;

	parse("# generated\n"
	      "nameserver 198.51.100.53\n"
	      "nameserver\t2001:db8::53   # trailing comment\n"
	      "; nameserver 192.0.2.99\n"
	      "nameserver fe80::1%eth0\n"
	      "nameserver not-an-address\n"
	      "nameserver 192.0.2.1%eth0\n"
	      "nameserver\n"
	      "options edns0 trust-ad\n"
	      "nameserver 127.0.0.53",
	      &rc);
	CHECK_EQ(rc.ns_count, 4);
	CHECK(is_v4(&rc.ns[0], "198.51.100.53"));
	CHECK(is_v6(&rc.ns[1], "2001:db8::53"));
	CHECK(!rc.ns[1].scoped);
	CHECK(is_v6(&rc.ns[2], "fe80::1"));
	CHECK(rc.ns[2].scoped);
	CHECK(is_v4(&rc.ns[3], "127.0.0.53")); /* last line without newline */
	CHECK_EQ(rc.ignored, 3); /* not-an-address, v4 with zone, empty nameserver */
	CHECK_EQ(rc.search_count, 0);

	/* CRLF, leading blanks, comment right after the address */
	parse("  nameserver 203.0.113.7;comment\r\n\r\nnameserver 2001:db8::1#x\r\n", &rc);
	CHECK_EQ(rc.ns_count, 2);
	CHECK(is_v4(&rc.ns[0], "203.0.113.7"));
	CHECK(is_v6(&rc.ns[1], "2001:db8::1"));

	/* more than RESOLV_MAX_NS */
	{
		char text[1024] = "";
		unsigned i;

		for (i = 0; i < RESOLV_MAX_NS + 3; i++) {
			char line[64];

			snprintf(line, sizeof(line), "nameserver 192.0.2.%u\n", i + 1);
			strcat(text, line);
		}
		parse(text, &rc);
		CHECK_EQ(rc.ns_count, RESOLV_MAX_NS);
		CHECK_EQ(rc.ignored, 3);
		CHECK(is_v4(&rc.ns[RESOLV_MAX_NS - 1], "192.0.2.8"));
	}

	/* keyword must be the whole word */
	parse("nameservers 192.0.2.1\nxnameserver 192.0.2.2\n", &rc);
	CHECK_EQ(rc.ns_count, 0);
}

static void test_search(void)
{
	struct resolv_conf rc;
	char text[2048];
	char longname[400];
	unsigned i;

	parse("search example.test. corp.example.test\n", &rc);
	CHECK_EQ(rc.search_count, 2);
	CHECK_STR(rc.search[0], "example.test");
	CHECK_STR(rc.search[1], "corp.example.test");

	/* last of search/domain wins */
	parse("search a.test b.test\ndomain c.test\n", &rc);
	CHECK_EQ(rc.search_count, 1);
	CHECK_STR(rc.search[0], "c.test");
	parse("domain c.test\nsearch a.test b.test # comment\n", &rc);
	CHECK_EQ(rc.search_count, 2);
	CHECK_STR(rc.search[1], "b.test");

	/* "domain" takes one name */
	parse("domain one.test two.test\n", &rc);
	CHECK_EQ(rc.search_count, 1);
	CHECK_STR(rc.search[0], "one.test");

	/* too many, too long, hostile, a lone dot */
	strcpy(text, "search");
	for (i = 0; i < CONF_MAX_SEARCH + 2; i++) {
		char d[32];

		snprintf(d, sizeof(d), " d%u.test", i);
		strcat(text, d);
	}
	parse(text, &rc);
	CHECK_EQ(rc.search_count, CONF_MAX_SEARCH);
	CHECK_STR(rc.search[CONF_MAX_SEARCH - 1], "d7.test");
	CHECK_EQ(rc.ignored, 2);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(text, sizeof(text), "search ok.test %s . bad\"name.test x\x01y.test last.test\n",
		 longname);
	parse(text, &rc);
	CHECK_EQ(rc.search_count, 2);
	CHECK_STR(rc.search[0], "ok.test");
	CHECK_STR(rc.search[1], "last.test");
	CHECK_EQ(rc.ignored, 4);

	/* exactly CONF_DOMAIN_MAX - 1 characters fits, one more does not */
	memset(longname, 'b', CONF_DOMAIN_MAX - 1);
	longname[CONF_DOMAIN_MAX - 1] = '\0';
	snprintf(text, sizeof(text), "search %s\n", longname);
	parse(text, &rc);
	CHECK_EQ(rc.search_count, 1);
	CHECK_EQ(strlen(rc.search[0]), CONF_DOMAIN_MAX - 1);
	memset(longname, 'b', CONF_DOMAIN_MAX);
	longname[CONF_DOMAIN_MAX] = '\0';
	snprintf(text, sizeof(text), "search %s\n", longname);
	parse(text, &rc);
	CHECK_EQ(rc.search_count, 0);

	/* "search" with nothing clears an earlier list */
	parse("search a.test\nsearch\n", &rc);
	CHECK_EQ(rc.search_count, 0);
}

static void test_unterminated_and_hostile(void)
{
	static const char hostile[] = "nameserver 192.0.2.1\nsearch a.test\tb.test\n#\n;\n"
				      "nameserver ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%"
				      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
				      "nameserver 1.2.3.4.5\nnameserver ::ffff:192.0.2.1\n"
				      "search \n\n\n domain\n";
	struct resolv_conf rc;
	char buf[64];
	size_t i;

	/* a buffer that is not NUL-terminated: "nameserver 192.0.2.5" followed by junk that must
	 * not be read */
	memcpy(buf, "nameserver 192.0.2.5XXXXXXXX", 28);
	resolv_parse(buf, 20, &rc);
	CHECK_EQ(rc.ns_count, 1);
	CHECK(is_v4(&rc.ns[0], "192.0.2.5"));

	/* every prefix of a hostile text parses without a crash and without overflowing */
	for (i = 0; i <= sizeof(hostile) - 1; i++) {
		resolv_parse(hostile, i, &rc);
		CHECK(rc.ns_count <= RESOLV_MAX_NS);
		CHECK(rc.search_count <= CONF_MAX_SEARCH);
	}
	resolv_parse(hostile, sizeof(hostile) - 1, &rc);
	CHECK_EQ(rc.ns_count, 3); /* 192.0.2.1, the scoped all-ones, ::ffff:192.0.2.1 */
	CHECK(rc.ns[1].scoped);
	CHECK_EQ(rc.search_count, 0); /* the final bare "domain" cleared it */

	/* pseudo-random bytes, with NULs */
	{
		static char junk[8192];
		unsigned seed = 12345;

		for (i = 0; i < sizeof(junk); i++) {
			seed = seed * 1103515245u + 12345u;
			junk[i] = (char)(seed >> 16);
			if ((seed >> 8) % 17 == 0)
				junk[i] = '\n';
		}
		resolv_parse(junk, sizeof(junk), &rc);
		CHECK(rc.ns_count <= RESOLV_MAX_NS);
		CHECK(rc.search_count <= CONF_MAX_SEARCH);
		for (i = 0; i < rc.search_count; i++)
			CHECK(strlen(rc.search[i]) < CONF_DOMAIN_MAX);
	}
}

static void test_usable(void)
{
	struct resolv_conf rc;

	parse("nameserver 127.0.0.53\nnameserver 127.1.2.3\nnameserver ::1\n"
	      "nameserver fe80::1\nnameserver 2001:db8::1%eth0\nnameserver 0.0.0.0\n"
	      "nameserver ::\nnameserver 169.254.1.1\n",
	      &rc);
	CHECK_EQ(rc.ns_count, 8);
	for (unsigned i = 0; i < rc.ns_count; i++)
		CHECK(!resolv_ns_usable(&rc.ns[i]));
	parse("nameserver 198.51.100.53\nnameserver 2001:db8::53\nnameserver 10.0.0.1\n", &rc);
	CHECK(resolv_ns_usable(&rc.ns[0]));
	CHECK(resolv_ns_usable(&rc.ns[1]));
	CHECK(resolv_ns_usable(&rc.ns[2]));
}

static void test_apply(void)
{
	struct resolv_conf rc;
	struct config c;
	struct in_addr a4;
	struct in6_addr a6;

	parse("nameserver 127.0.0.53\nnameserver 198.51.100.53\nnameserver fe80::1%eth0\n"
	      "nameserver 2001:db8::53\nnameserver 198.51.100.54\nsearch example.test other.test\n",
	      &rc);

	config_defaults(&c, MODE_PASTA, "pasta");
	resolv_apply(&c, &rc);
	CHECK_EQ(c.ip4.dns_count, 2);
	inet_pton(AF_INET, "198.51.100.53", &a4);
	CHECK_EQ(c.ip4.dns[0].s_addr, a4.s_addr);
	inet_pton(AF_INET, "198.51.100.54", &a4);
	CHECK_EQ(c.ip4.dns[1].s_addr, a4.s_addr);
	CHECK_EQ(c.ip6.dns_count, 1);
	inet_pton(AF_INET6, "2001:db8::53", &a6);
	CHECK(!memcmp(&c.ip6.dns[0], &a6, sizeof(a6)));
	CHECK_EQ(c.search_count, 2);
	CHECK_STR(c.search[0], "example.test");
	CHECK_STR(c.search[1], "other.test");

	/* -D given (here: one IPv6 server): the file's servers are not added, in either family */
	config_defaults(&c, MODE_PASTA, "pasta");
	inet_pton(AF_INET6, "2001:db8::99", &c.ip6.dns[0]);
	c.ip6.dns_count = 1;
	strcpy(c.search[0], "given.test");
	c.search_count = 1;
	resolv_apply(&c, &rc);
	CHECK_EQ(c.ip4.dns_count, 0);
	CHECK_EQ(c.ip6.dns_count, 1);
	CHECK_EQ(c.search_count, 1);
	CHECK_STR(c.search[0], "given.test");

	/* -D none, -S none */
	config_defaults(&c, MODE_PASST, "passt");
	c.no_dns = true;
	c.no_dns_search = true;
	resolv_apply(&c, &rc);
	CHECK_EQ(c.ip4.dns_count + c.ip6.dns_count, 0);
	CHECK_EQ(c.search_count, 0);

	/* -4: no IPv6 servers */
	config_defaults(&c, MODE_PASTA, "pasta");
	c.ip6.enabled = false;
	resolv_apply(&c, &rc);
	CHECK_EQ(c.ip4.dns_count, 2);
	CHECK_EQ(c.ip6.dns_count, 0);

	/* more usable servers than CONF_MAX_DNS */
	parse("nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n"
	      "nameserver 192.0.2.4\nnameserver 192.0.2.5\nnameserver 192.0.2.6\n",
	      &rc);
	config_defaults(&c, MODE_PASTA, "pasta");
	resolv_apply(&c, &rc);
	CHECK_EQ(c.ip4.dns_count, CONF_MAX_DNS);
}

static void test_read(void)
{
	char path[] = "/tmp/test_resolv.XXXXXX";
	const char text[] = "nameserver 192.0.2.53\nsearch file.test\n";
	struct resolv_conf rc;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, sizeof(text) - 1), (long long)sizeof(text) - 1);
	close(fd);
	CHECK_EQ(resolv_read(path, &rc), 0);
	CHECK_EQ(rc.ns_count, 1);
	CHECK(is_v4(&rc.ns[0], "192.0.2.53"));
	CHECK_EQ(rc.search_count, 1);
	CHECK_STR(rc.search[0], "file.test");
	unlink(path);

	CHECK_EQ(resolv_read(path, &rc), -ENOENT);
	CHECK_EQ(rc.ns_count, 0);
	CHECK_EQ(rc.search_count, 0);
}

int main(void)
{
	log_init("test_resolv", LOG_LVL_DEBUG);
	test_nameservers();
	test_search();
	test_unterminated_and_hostile();
	test_usable();
	test_apply();
	test_read();
	printf("test_resolv: %lu checks passed\n", checks);
	return 0;
}
