/* Data classification enforced before anything reaches a model.
 *
 * Every source field has a class (sources.NAME.fields, else the configured
 * default); each class has a policy (can_embed, retention_days,
 * needs_anonymization).  A privacy session applies it to what one model
 * session sends: a value of a field that needs anonymisation becomes a
 * pseudonym "ANON_<12 hex>" = HMAC-SHA256(key, value), the same for the same
 * value all session long (so the model can still join and count), and is
 * mapped back in what the model answers; a value of a field that may not be
 * embedded (RESTRICTED always) is withheld, and — like every pseudonymised
 * value — scrubbed from any other text sent later in the session (a call
 * summary that quotes an e-mail address, an error that quotes a name).
 *
 * The key comes from classification.key (a secret reference); without one a
 * random key is drawn per session, so pseudonyms cannot be linked across
 * runs.  Raw values live only in this process's memory: transcripts on disk
 * hold what was sent, pseudonyms included. */
#include "config.h"
#include "core.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PSEUDONYM_PREFIX "ANON_"
#define PSEUDONYM_HEX 12
/* Shorter values are not scrubbed from free text: "US" or "12" would wreck
 * every sentence.  They are still pseudonymised or withheld in their own field. */
#define SCRUB_MIN_LEN 3

typedef struct pv_entry {
    char *raw;
    char token[sizeof PSEUDONYM_PREFIX + PSEUDONYM_HEX];  /* "" for withheld values */
    int restricted;
    /* When the session learnt the value, its pseudonym, that it is withheld
     * (privacy.version stamps; 0: not yet), so a narrative batch prepared
     * early is scrubbed as the session stood then (privacy_scrub_at). */
    size_t added, tokened, withheld;
} pv_entry;

struct privacy {
    const classification *cl;
    unsigned char key[32];
    size_t keylen;
    pv_entry **v;
    size_t n, cap;
    revops_map by_raw, by_token;   /* -> pv_entry* */
    int sorted;                    /* v is sorted longest raw first */
    size_t version;                /* bumped by every change to what is known */
    data_class highest_sent;       /* for the transcript's retention */
};

privacy *privacy_new(const classification *cl, char *err, size_t errlen)
{
    privacy *p = xcalloc(1, sizeof *p);
    p->cl = cl;
    p->highest_sent = CLASS_PUBLIC;
    if (cl->key_ref) {
        char *key = NULL;
        if (secret_resolve(cl->key_ref, &key, err, errlen) < 0) {
            free(p);
            return NULL;
        }
        /* Any length: HMAC takes the key as it is, hashed when longer than
         * a block.  Kept as SHA-256 of the secret so the struct is fixed. */
        sha256_raw(key, strlen(key), p->key);
        p->keylen = 32;
        secret_wipe_free(key);
    } else {
        if (RAND_bytes(p->key, sizeof p->key) != 1) {
            snprintf(err, errlen, "cannot draw a random pseudonymisation key (OpenSSL RAND_bytes failed)");
            free(p);
            return NULL;
        }
        p->keylen = sizeof p->key;
    }
    return p;
}

void privacy_free(privacy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        revops_wipe(p->v[i]->raw, strlen(p->v[i]->raw));
        free(p->v[i]->raw);
        free(p->v[i]);
    }
    free(p->v);
    revops_map_free(&p->by_raw, NULL);
    revops_map_free(&p->by_token, NULL);
    revops_wipe(p->key, sizeof p->key);
    free(p);
}

/* RESTRICTED never reaches a model, whatever the policy table says. */
int class_embeddable(const classification *cl, data_class c)
{
    return c != CLASS_RESTRICTED && cl->policy[c].can_embed;
}

data_class source_field_class(const revops_config *c, const conf_instance *src, const char *column)
{
    for (size_t i = 0; src && i < src->nfields; i++)
        if (!strcmp(src->fields[i].name, column)) return src->fields[i].cls;
    return c->classes.default_class;
}

void privacy_note_sent(privacy *p, data_class c)
{
    if (c > p->highest_sent) p->highest_sent = c;
}

data_class privacy_highest_sent(const privacy *p)
{
    return p->highest_sent;
}

static pv_entry *entry_for(privacy *p, const char *raw)
{
    pv_entry *e = revops_map_get(&p->by_raw, raw);
    if (e) return e;
    e = xcalloc(1, sizeof *e);
    e->raw = xstrdup(raw);
    e->added = ++p->version;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = e;
    p->sorted = 0;
    void **slot = revops_map_slot(&p->by_raw, raw);
    if (!slot) oom();
    *slot = e;
    return e;
}

const char *privacy_pseudonym(privacy *p, const char *raw)
{
    pv_entry *e = entry_for(p, raw);
    if (!e->token[0]) {
        unsigned char mac[32];
        unsigned int len = 0;
        HMAC(EVP_sha256(), p->key, (int)p->keylen, (const unsigned char *)raw, strlen(raw), mac, &len);
        memcpy(e->token, PSEUDONYM_PREFIX, sizeof PSEUDONYM_PREFIX - 1);
        for (int i = 0; i < PSEUDONYM_HEX / 2; i++)
            snprintf(e->token + sizeof PSEUDONYM_PREFIX - 1 + 2 * i, 3, "%02x", mac[i]);
        e->tokened = ++p->version;
        void **slot = revops_map_slot(&p->by_token, e->token);
        if (!slot) oom();
        *slot = e;
    }
    return e->token;
}

void privacy_withhold(privacy *p, const char *raw)
{
    if (!raw || !*raw) return;
    pv_entry *e = entry_for(p, raw);
    if (!e->restricted) e->withheld = ++p->version;
    e->restricted = 1;
}

size_t privacy_known(const privacy *p)
{
    return p->n;
}

static int longest_first(const void *a, const void *b)
{
    size_t la = strlen((*(pv_entry *const *)a)->raw), lb = strlen((*(pv_entry *const *)b)->raw);
    return la < lb ? 1 : la > lb ? -1 : strcmp((*(pv_entry *const *)a)->raw, (*(pv_entry *const *)b)->raw);
}

size_t privacy_version(const privacy *p)
{
    return p->version;
}

void privacy_freeze(privacy *p)
{
    if (!p->sorted && p->n) {
        qsort(p->v, p->n, sizeof *p->v, longest_first);
        p->sorted = 1;
    }
}

/* Every known value in text replaced: withheld ones by "[REDACTED]",
 * pseudonymised ones by their pseudonym.  Longest first, so "Acme Corp
 * Europe" is not half replaced by "Acme Corp". */
char *privacy_scrub(privacy *p, const char *text)
{
    privacy_freeze(p);
    return privacy_scrub_at(p, text, p->version);
}

/* Only reads the session, so parallel narrative workers may call it at
 * once (after privacy_freeze, with nothing learnt meanwhile).  The order
 * of v (longest first, then by value) does not depend on when values were
 * learnt, so skipping the later ones gives the earlier scrub exactly. */
char *privacy_scrub_at(const privacy *p, const char *text, size_t version)
{
    if (!text) return NULL;
    char *cur = xstrdup(text);
    for (size_t i = 0; i < p->n; i++) {
        const pv_entry *e = p->v[i];
        if (e->added > version) continue;
        size_t rl = strlen(e->raw);
        if (rl < SCRUB_MIN_LEN || !strstr(cur, e->raw)) continue;
        int withheld = e->withheld && e->withheld <= version, tokened = e->tokened && e->tokened <= version;
        const char *with = withheld || !tokened ? "[REDACTED]" : e->token;
        strbuf sb = { 0 };
        const char *s = cur, *hit;
        while ((hit = strstr(s, e->raw))) {
            sb_add(&sb, s, (size_t)(hit - s));
            sb_puts(&sb, with);
            s = hit + rl;
        }
        sb_puts(&sb, s);
        free(cur);
        cur = sb_steal(&sb);
    }
    return cur;
}

static int is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* Pseudonyms in what the model wrote -> the values they stand for.  With
 * json_escape the values are escaped for the inside of a JSON string (a
 * tool's input is JSON text). */
char *privacy_restore(const privacy *p, const char *text, int json_escape)
{
    if (!text) return NULL;
    strbuf sb = { 0 };
    const size_t pl = sizeof PSEUDONYM_PREFIX - 1;
    const char *s = text, *hit;
    while ((hit = strstr(s, PSEUDONYM_PREFIX))) {
        sb_add(&sb, s, (size_t)(hit - s));
        int ok = 1;
        for (size_t i = 0; i < PSEUDONYM_HEX; i++)
            if (!is_hex(hit[pl + i])) ok = 0;
        char token[sizeof PSEUDONYM_PREFIX + PSEUDONYM_HEX];
        pv_entry *e = NULL;
        if (ok) {
            memcpy(token, hit, pl + PSEUDONYM_HEX);
            token[pl + PSEUDONYM_HEX] = '\0';
            e = revops_map_get(&p->by_token, token);
        }
        if (!e) {
            sb_add(&sb, hit, pl);
            s = hit + pl;
            continue;
        }
        if (json_escape) {
            char *q = json_quote_string(e->raw);
            sb_add(&sb, q + 1, strlen(q) - 2);
            free(q);
        } else {
            sb_puts(&sb, e->raw);
        }
        s = hit + pl + PSEUDONYM_HEX;
    }
    sb_puts(&sb, s);
    return sb.buf ? sb_steal(&sb) : xstrdup("");
}

/* ------------------------------------------------------------ retention -- */

/* state_dir/transcripts/<session>-<purpose>.<CLASS>.jsonl: what a model session sent,
 * named by the most sensitive class in it, deleted once older than that
 * class' retention_days.  Returns how many files were deleted. */
int retention_prune(const revops_config *c, double now)
{
    char *dir = xasprintf("%s/transcripts", c->state_dir);
    DIR *d = opendir(dir);
    int deleted = 0;
    if (!d) {
        free(dir);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t l = strlen(name);
        if (l < 7 || strcmp(name + l - 6, ".jsonl")) continue;
        int cls = -1;
        for (int k = 0; k < CLASS_COUNT; k++) {
            size_t cl = strlen(data_class_names[k]);
            if (l > cl + 7 && name[l - 7 - cl] == '.' && !strncmp(name + l - 6 - cl, data_class_names[k], cl)) cls = k;
        }
        if (cls < 0) continue;
        char *path = xasprintf("%s/%s", dir, name);
        struct stat st;
        double limit = (double)c->classes.policy[cls].retention_days * 86400.0;
        if (stat(path, &st) == 0 && now - (double)st.st_mtime > limit) {
            if (unlink(path) == 0) {
                deleted++;
                log_info("retention: deleted %s (%s data, kept %lld days)", path, data_class_names[cls],
                         (long long)c->classes.policy[cls].retention_days);
            } else {
                log_warn("retention: cannot delete %s: %s", path, strerror(errno));
            }
        }
        free(path);
    }
    closedir(d);
    free(dir);
    return deleted;
}
