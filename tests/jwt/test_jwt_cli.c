/*
 * The mcp-token CLI end to end ($MCP_BIN/mcp-token): keygen -> mint -> verify for each key
 * kind, inspect, the failure exit codes, and that secrets never reach stdout/stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char bin[1024];
static char dir[] = "/tmp/mcp-token-test-XXXXXX";
static char out[65536], errtext[65536];

static void
slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Run "mcp-token ARGS" in the temp dir; stdout/stderr land in out/errtext. Returns exit code. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd %s && %s %s >out.txt 2>err.txt", dir, bin, args);
    int st = system(cmd);
    char p[256];
    snprintf(p, sizeof p, "%s/out.txt", dir);
    slurp(p, out, sizeof out);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    slurp(p, errtext, sizeof errtext);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int
setup(void **state)
{
    (void)state;
    const char *b = getenv("MCP_BIN");
    snprintf(bin, sizeof bin, "%s/mcp-token", b ? b : "../build/bin");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "mcp-token not found at %s (set MCP_BIN)\n", bin);
        return -1;
    }
    if (mkdtemp(dir) == NULL)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char token[16384];

static void
save_token(void)
{
    assert_true(strlen(out) > 10 && strlen(out) < sizeof token);
    strcpy(token, out);
    token[strcspn(token, "\n")] = '\0';
    /* exactly one line: the token, three segments */
    size_t dots = 0;
    for (const char *c = token; *c; c++)
        dots += *c == '.';
    assert_int_equal(dots, 2);
}

static void
cli_keygen_mint_verify_each_kind(void **state)
{
    (void)state;
    static const char *const algs[] = { "ES256", "ES384", "EdDSA", "RS256", "PS256" };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        assert_int_equal(run("keygen --alg %s --out k%zu", algs[i], i), 0);
        char p[256];
        struct stat st;
        snprintf(p, sizeof p, "%s/k%zu.key", dir, i);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(run("mint --key k%zu.key --alg %s --kid kid-%zu --sub alice --name Alice "
                             "--permissions Products.Read,Admin.Write --scope 'openid profile' "
                             "--iss https://iss.example --aud https://mcp.example/mcp --ttl 300",
                             i, algs[i], i), 0);
        assert_string_equal(errtext, "");
        save_token();
        assert_int_equal(run("verify %s --public-key k%zu.pub.pem --alg %s "
                             "--iss https://iss.example --aud https://mcp.example/mcp", token, i,
                             algs[i]), 0);
        assert_non_null(strstr(out, "\"subject\": \"alice\""));
        assert_non_null(strstr(out, "\"Admin.Write\""));
        assert_non_null(strstr(out, "\"openid\""));
        assert_non_null(strstr(out, "\"key_id\": \"kid-"));
    }
    /* alg inferred from the key when --alg is omitted */
    assert_int_equal(run("mint --key k0.key --sub bob --iss i --aud a"), 0);
    save_token();
    assert_int_equal(run("verify %s --public-key k0.pub.pem --iss i --aud a", token), 0);
    /* key type / alg mismatch is a runtime failure */
    assert_int_equal(run("mint --key k0.key --alg EdDSA --sub bob"), 1);
    assert_non_null(strstr(errtext, "does not fit"));
}

static void
cli_hmac_secret_is_never_printed(void **state)
{
    (void)state;
    assert_int_equal(run("keygen --alg HS256 --out hs"), 0);
    char p[256], secret[256];
    snprintf(p, sizeof p, "%s/hs.key", dir);
    slurp(p, secret, sizeof secret);
    assert_int_equal(strlen(secret), 65);               /* 64 hex characters and a newline */
    secret[64] = '\0';
    assert_null(strstr(out, secret));
    assert_int_equal(run("mint --secret-file hs.key --sub carol --iss i --aud a --jti fixed-id"),
                     0);
    assert_null(strstr(out, secret));
    assert_null(strstr(errtext, secret));
    save_token();
    /* token on stdin via "-" */
    char tokpath[256];
    snprintf(tokpath, sizeof tokpath, "%s/tok.txt", dir);
    FILE *f = fopen(tokpath, "w");
    fprintf(f, "%s\n", token);
    fclose(f);
    assert_int_equal(run("verify - --secret-file hs.key --iss i --aud a < tok.txt"), 0);
    assert_non_null(strstr(out, "\"jti\": \"fixed-id\""));
    assert_null(strstr(out, secret));
    /* keygen does not overwrite without --force */
    assert_int_equal(run("keygen --alg HS256 --out hs"), 1);
    assert_non_null(strstr(errtext, "--force"));
    assert_int_equal(run("keygen --alg HS512 --out hs --force"), 0);
    /* the old token no longer verifies with the new secret */
    assert_int_equal(run("verify %s --secret-file hs.key --alg HS512 --iss i --aud a", token), 1);
    assert_int_equal(run("verify %s --secret-file hs.key --iss i --aud a", token), 1);
    assert_non_null(strstr(errtext, "verification failed: signature invalid"));
}

static void
cli_verify_reports_the_failed_check(void **state)
{
    (void)state;
    assert_int_equal(run("keygen --alg ES256 --out ec --force"), 0);
    assert_int_equal(run("mint --key ec.key --sub dave --iss i --aud a --ttl -120"), 0);
    save_token();
    assert_int_equal(run("verify %s --public-key ec.pub.pem --iss i --aud a", token), 1);
    assert_non_null(strstr(errtext, "token expired"));
    assert_string_equal(out, "");
    assert_int_equal(run("verify %s --public-key ec.pub.pem --iss i --aud a --leeway 600", token),
                     0);

    assert_int_equal(run("mint --key ec.key --sub dave --iss i --aud a"), 0);
    save_token();
    assert_int_equal(run("verify %s --public-key ec.pub.pem --iss i --aud other", token), 1);
    assert_non_null(strstr(errtext, "audience mismatch"));
    assert_int_equal(run("verify %s --public-key ec.pub.pem --iss other --aud a", token), 1);
    assert_non_null(strstr(errtext, "issuer mismatch"));
    assert_int_equal(run("verify %s --public-key ec.pub.pem --no-iss --no-aud", token), 0);
    assert_int_equal(run("verify %s --public-key ec.pub.pem --iss i --aud a --max-len 64", token),
                     1);
    assert_non_null(strstr(errtext, "token too large"));
    assert_int_equal(run("verify not-a-token --public-key ec.pub.pem --iss i --aud a"), 1);
    assert_non_null(strstr(errtext, "malformed token"));
    assert_null(strstr(errtext, "not-a-token"));

    /* inspect decodes without trusting */
    assert_int_equal(run("inspect %s", token), 0);
    assert_non_null(strstr(out, "\"verified\": false"));
    assert_non_null(strstr(out, "\"alg\": \"ES256\""));
    assert_non_null(strstr(out, "\"sub\": \"dave\""));
    assert_non_null(strstr(errtext, "NOT verified"));
    assert_int_equal(run("inspect a.b"), 1);
}

static void
cli_usage_errors_exit_2(void **state)
{
    (void)state;
    assert_int_equal(run("%s", ""), 2);
    assert_int_equal(run("frobnicate"), 2);
    assert_int_equal(run("mint --sub x"), 2);                        /* no key */
    assert_int_equal(run("mint --secret-file hs.key"), 2);           /* no sub */
    assert_int_equal(run("mint --secret-file hs.key --sub x --alg ES256"), 2);
    assert_int_equal(run("mint --secret-file hs.key --sub x --ttl soon"), 2);
    assert_int_equal(run("verify tok --secret-file hs.key --aud a"), 2);   /* no --iss */
    assert_int_equal(run("verify tok --secret-file hs.key --iss i"), 2);   /* no --aud */
    assert_int_equal(run("verify tok --iss i --aud a"), 2);                /* no key source */
    assert_int_equal(run("verify tok --secret-file hs.key --public-key x --iss i --aud a"), 2);
    assert_int_equal(run("keygen --alg HS1 --out z"), 2);
    assert_int_equal(run("keygen --out z"), 2);
    assert_int_equal(run("mint --bogus"), 2);
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(out, "usage: mcp-token"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cli_keygen_mint_verify_each_kind),
        cmocka_unit_test(cli_hmac_secret_is_never_printed),
        cmocka_unit_test(cli_verify_reports_the_failed_check),
        cmocka_unit_test(cli_usage_errors_exit_2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
