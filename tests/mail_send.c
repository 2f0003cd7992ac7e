/*
 * mail_send: send one e-mail through the host service (host->send_mail) with
 * a real instance of the core, for tests/mail.sh (the email sink comes later).
 *
 *   mail_send URL FROM TO[,TO...] SUBJECT TEXT HTML [USER PASSWORD]
 *
 * Exit 0 sent, 1 RETRY (transient, retries exhausted), 2 ERROR; the reason
 * on stderr.  The retry policy is 3 attempts, 50 ms.
 */
#include "config.h"
#include "../core/core.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 9) {
        fputs("usage: mail_send URL FROM TO[,TO...] SUBJECT TEXT HTML [USER PASSWORD]\n", stderr);
        return 64;
    }
    log_setup(REVOPS_LOG_WARN, LOG_FORMAT_TEXT);
    http_global_init();
    const char *to[8] = { 0 };
    char *list = xstrdup(argv[3]), *save = NULL;
    size_t n = 0;
    for (char *t = strtok_r(list, ",", &save); t && n < 7; t = strtok_r(NULL, ",", &save)) to[n++] = t;
    retry_policy rp = { 0.05, 2, 1, 3 };
    revops_instance in;
    instance_init(&in, REVOPS_KIND_ACTION, "mail_send", "test", NULL, &rp);
    revops_mail m = { argv[1], 0, argc == 9 ? argv[7] : NULL, argc == 9 ? argv[8] : NULL, argv[2], to, NULL,
                      argv[4], argv[5], argv[6], NULL, 10 };
    revops_status st = host_services.send_mail(&in, &m);
    if (st != REVOPS_OK) fprintf(stderr, "mail_send: %s\n", in.error);
    free(list);
    http_global_cleanup();
    return st == REVOPS_OK ? 0 : st == REVOPS_RETRY ? 1 : 2;
}
