/* test_units.c — unit tests of the one parser of sizes, durations and
 * signals (executor/decode/units.c, docs/config.md "Units"): what a config
 * author and a dmsctl user type (docker's "64m" as well as "64MB" and
 * "64MiB") and what is refused (inf, nan, signs, hex, exponents,
 * overflow), as tables. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdbool.h>
#include <stdint.h>

#include "units.h"

struct duration_case {
	char in[24];
	long long want_ms;
};

ParameterizedTestParameters(units, durations)
{
	static struct duration_case cases[] = {
	    {"10s", 10000},
	    {"250ms", 250},
	    {"1.5m", 90000},
	    {"1h", 3600000},
	    {"10", 10000},
	    {"0", 0},
	    {"0.5", 500},
	    {"1m30s", 90000},
	    {"2h15m", 8100000},
	    {"1d", 86400000},
	    {"10 s", 10000},
	    {" 5s ", 5000},
	    {"1500us", 2},
	    {"1S", 1000},
	    {"", -1},
	    {"s", -1},
	    {"-1s", -1},
	    {"1x", -1},
	    {"1.2.3s", -1},
	    {"abc", -1},
	    {"1e3s", -1},
	    {"0x10", -1},
	    {"inf", -1},
	    {"1s-", -1},
	    {"99999999999999999999h", -1},
	    {"nan", -1},
	    {"-0.5", -1},
	    {"+5s", -1},
	    {"1E3", -1},
	    {"5ns", 0},
	    {"1h1h", 7200000},
	};
	return cr_make_param_array(struct duration_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct duration_case *dc, units, durations)
{
	int64_t got = units_parse_duration_ms(dc->in);

	cr_assert_eq(got, dc->want_ms, "units_parse_duration_ms(\"%s\") = %lld, want %lld", dc->in,
	             (long long)got, dc->want_ms);
}

struct size_case {
	char in[24];
	long long want;
};

ParameterizedTestParameters(units, sizes)
{
	static struct size_case cases[] = {
	    {"1MiB", 1048576},
	    {"64MB", 64000000},
	    {"512k", 524288},
	    {"512KiB", 524288},
	    {"512kB", 512000},
	    {"1048576", 1048576},
	    {"0", 0},
	    {"1GiB", 1073741824},
	    {"2g", 2147483648LL},
	    {"1.5MiB", 1572864},
	    {"100b", 100},
	    {"1 MiB", 1048576},
	    {"1mib", 1048576},
	    {"1TiB", 1099511627776LL},
	    {"", -1},
	    {"MiB", -1},
	    {"-1", -1},
	    {"1.5", -1},
	    {"1XB", -1},
	    {"12 34", -1},
	    {"1MiBs", -1},
	    {"0x100", -1},
	    {"99999999999TiB", -1},
	    /* What a dmsctl user types, as the docker CLI reads it: single
	     * letters are binary multiples, in either case. */
	    {"64m", 67108864},
	    {"64M", 67108864},
	    {"1g", 1073741824},
	    {"1G", 1073741824},
	    {"512K", 524288},
	    {"100B", 100},
	    {"1.5g", 1610612736},
	    {"1t", 1099511627776LL},
	    /* The config's: B after a prefix is decimal, iB binary. */
	    {"1kB", 1000},
	    {"1GB", 1000000000},
	    {"2TB", 2000000000000LL},
	    {"1GiB", 1073741824},
	    {" 1 MiB ", 1048576},
	    {".5k", 512},
	    /* Refused: not a number, signs, hex, exponents, overflow. */
	    {"inf", -1},
	    {"nan", -1},
	    {"infinity", -1},
	    {"-64m", -1},
	    {"+64m", -1},
	    {"0x40", -1},
	    {"1e6", -1},
	    {"1E6", -1},
	    {"1e3k", -1},
	    {"64 m b", -1},
	    {"64mm", -1},
	    {"1PiB", -1},
	    {"8388608t", -1},
	    {"9223372036854775807", -1},
	    {"99999999999999999999", -1},
	};
	return cr_make_param_array(struct size_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *sc, units, sizes)
{
	int64_t got = units_parse_size(sc->in);

	cr_assert_eq(got, sc->want, "units_parse_size(\"%s\") = %lld, want %lld", sc->in,
	             (long long)got, sc->want);
}

Test(units, null_strings_are_errors)
{
	cr_assert_eq(units_parse_duration_ms(NULL), -1);
	cr_assert_eq(units_parse_size(NULL), -1);
	cr_assert_not(units_parse_signal(NULL, (char[32]){0}));
}

struct signal_case {
	char in[24];
	char want[24]; /* "" when refused */
};

ParameterizedTestParameters(units, signals)
{
	static struct signal_case cases[] = {
	    {"SIGTERM", "SIGTERM"},
	    {"TERM", "SIGTERM"},
	    {"sigterm", "SIGTERM"},
	    {"kill", "SIGKILL"},
	    {"SIGusr1", "SIGUSR1"},
	    {"9", "9"},
	    {"1", "1"},
	    {"64", "64"},
	    {"SIGRTMIN", "SIGRTMIN"},
	    {"SIGRTMIN+3", "SIGRTMIN+3"},
	    {"rtmax-30", "SIGRTMAX-30"},
	    {"0", ""},
	    {"65", ""},
	    {"-1", ""},
	    {"09", ""},
	    {"9x", ""},
	    {"0x9", ""},
	    {"SIGRTMIN+31", ""},
	    {"SIGRTMIN+0", ""},
	    {"SIGFOO", ""},
	    {"SIG", ""},
	    {"", ""},
	    {"SIGTERMSIGTERMSIGTERMSI", ""},
	};
	return cr_make_param_array(struct signal_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct signal_case *sc, units, signals)
{
	char canon[32] = "";
	bool ok = units_parse_signal(sc->in, canon);

	cr_assert_eq(ok, sc->want[0] != '\0', "units_parse_signal(\"%s\") = %d, want %d", sc->in,
	             ok, sc->want[0] != '\0');
	if (ok)
		cr_assert_str_eq(canon, sc->want,
		                 "units_parse_signal(\"%s\") -> \"%s\", want \"%s\"", sc->in, canon,
		                 sc->want);
}
