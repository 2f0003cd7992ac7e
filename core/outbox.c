/* The outbox: exactly-once delivery of findings to actions across crashes
 * and reruns, kept in the state store (store.c).
 *
 * A run first records its findings and, per route, one delivery row per
 * (finding, action) it decides to send, all in one transaction (state
 * `pending`).  It then delivers and marks each result in its own commit:
 * delivered, still pending (RETRY: due again after a backoff, in a later
 * run), or failed (a final error, or too many runs).  A process killed
 * anywhere leaves every delivery either marked or pending, and the next run
 * sends the pending ones again under the same delivery id, which sinks use
 * as an idempotency key; so the one window left (the sink confirmed, the
 * mark not yet committed) is closed at the sink.
 *
 * Suppression: a delivered finding that is still open is not sent to the
 * same action again within `delivery.suppress_days`, unless its priority
 * rose or it closed (left its pipeline's findings) and came back; then it
 * is a new occurrence with its own delivery id. */
#include "config.h"
#include "core.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void outbox_delivery_id(const char *fingerprint, const char *action, int occurrence, char out[33])
{
    /* Occurrence 1 keeps the 1.4 form, sha256(fingerprint "\n" action), so
     * ids sinks stored before the outbox existed still match. */
    char *key = occurrence <= 1 ? xasprintf("%s\n%s", fingerprint, action)
                                : xasprintf("%s\n%s\n%d", fingerprint, action, occurrence);
    char hex[65];
    sha256_hex(key, strlen(key), hex);
    free(key);
    memcpy(out, hex, 32);
    out[32] = '\0';
}

static int step_done(store *s, sqlite3_stmt *st, char *err, size_t n)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_error(s, err, n);
        return -1;
    }
    return 0;
}

int outbox_record_findings(store *s, const char *run_uid, const char *session, const char *pipeline,
                           revops_finding *const *f, size_t nf, char *err, size_t n)
{
    if (store_begin(s, err, n) < 0) return -1;
    sqlite3_stmt *st = store_prepare(s,
        "INSERT INTO findings(fingerprint, pipeline, analysis, account_id, account_name, owner, opportunity_id, category,"
        " priority, priority_rank, score, title, json, first_seen, last_seen, last_session, times_seen, status, last_run)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?14,?15,1,'open',?16)"
        " ON CONFLICT(fingerprint) DO UPDATE SET pipeline=?2, account_name=?5, owner=?6, priority=?9, priority_rank=?10,"
        " score=?11, title=?12, json=?13, last_seen=?14, last_session=?15, times_seen=times_seen+1, status='open',"
        " last_run=?16", err, n);
    if (!st) {
        store_rollback(s);
        return -1;
    }
    double now = clock_now();
    for (size_t i = 0; i < nf; i++) {
        char *json = finding_json_string(f[i]);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, f[i]->fingerprint, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, f[i]->analysis, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, f[i]->account_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, f[i]->account_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, f[i]->owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, f[i]->opportunity_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, f[i]->category, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, revops_priority_name(f[i]->priority), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 10, (int)f[i]->priority);
        sqlite3_bind_double(st, 11, f[i]->score);
        sqlite3_bind_text(st, 12, f[i]->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, json, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 14, now);
        sqlite3_bind_text(st, 15, session, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 16, run_uid, -1, SQLITE_STATIC);
        free(json);
        if (step_done(s, st, err, n) < 0) {
            sqlite3_finalize(st);
            store_rollback(s);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return store_commit(s, err, n);
}

int outbox_close_missing(store *s, const char *pipeline, const char *run_uid, size_t *closed, char *err, size_t n)
{
    sqlite3_stmt *st = store_prepare(s,
        "UPDATE findings SET status='closed', closed_at=?3 WHERE pipeline=?1 AND status='open' AND last_run<>?2", err, n);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, run_uid, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, clock_now());
    int rc = step_done(s, st, err, n);
    if (rc == 0 && closed) *closed = (size_t)sqlite3_changes(store_db(s));
    sqlite3_finalize(st);
    return rc;
}

static void add_item(outbox_items *o, const revops_finding *f, revops_finding *owned, const char *id, int occurrence,
                     int attempts)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = xrealloc(o->v, o->cap * sizeof *o->v);
    }
    outbox_item *it = &o->v[o->n++];
    memset(it, 0, sizeof *it);
    it->f = f;
    it->owned = owned;
    snprintf(it->delivery_id, sizeof it->delivery_id, "%s", id);
    it->occurrence = occurrence;
    it->attempts = attempts;
}

void outbox_items_free(outbox_items *o)
{
    for (size_t i = 0; i < o->n; i++) finding_free(o->v[i].owned);
    free(o->v);
    memset(o, 0, sizeof *o);
}

static int insert_delivery(store *s, const char *id, const revops_finding *f, const char *action, const char *pipeline,
                           int occurrence, const char *session, char *err, size_t n)
{
    sqlite3_stmt *st = store_prepare(s,
        "INSERT INTO deliveries(delivery_id, fingerprint, action, pipeline, occurrence, priority_rank, state, attempts,"
        " next_attempt, created_at, created_session, finding_json) VALUES(?1,?2,?3,?4,?5,?6,'pending',0,0,?7,?8,?9)",
        err, n);
    if (!st) return -1;
    char *json = finding_json_string(f);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, occurrence);
    sqlite3_bind_int(st, 6, (int)f->priority);
    sqlite3_bind_double(st, 7, clock_now());
    sqlite3_bind_text(st, 8, session, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, json, -1, SQLITE_TRANSIENT);
    free(json);
    int rc = step_done(s, st, err, n);
    sqlite3_finalize(st);
    return rc;
}

/* What to do with one routed finding for one action. */
static int decide(store *s, const delivery_policy *pol, const revops_finding *f, const char *action, const char *pipeline,
                  const char *session, outbox_items *out, outbox_counts *cnt, char *err, size_t n)
{
    sqlite3_stmt *st = store_prepare(s,
        "SELECT d.delivery_id, d.occurrence, d.state, d.priority_rank, d.delivered_at, d.attempts,"
        " (SELECT closed_at FROM findings WHERE fingerprint=d.fingerprint)"
        " FROM deliveries d WHERE d.fingerprint=?1 AND d.action=?2 ORDER BY d.occurrence DESC LIMIT 1", err, n);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, f->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_error(s, err, n);
        sqlite3_finalize(st);
        return -1;
    }
    int occurrence = 1;
    if (rc == SQLITE_ROW) {
        char id[33];
        snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
        int occ = sqlite3_column_int(st, 1);
        const char *state = (const char *)sqlite3_column_text(st, 2);
        int rank = sqlite3_column_int(st, 3);
        double delivered_at = sqlite3_column_double(st, 4);
        int attempts = sqlite3_column_int(st, 5);
        int closed_since = sqlite3_column_type(st, 6) != SQLITE_NULL && sqlite3_column_double(st, 6) > delivered_at;
        if (!strcmp(state, "pending")) {
            /* Not delivered yet (a crash, or a sink that was down): send the
             * finding as it is now, under the same id. */
            sqlite3_finalize(st);
            sqlite3_stmt *up = store_prepare(s, "UPDATE deliveries SET finding_json=?2 WHERE delivery_id=?1", err, n);
            if (!up) return -1;
            char *json = finding_json_string(f);
            sqlite3_bind_text(up, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(up, 2, json, -1, SQLITE_TRANSIENT);
            free(json);
            int urc = step_done(s, up, err, n);
            sqlite3_finalize(up);
            if (urc < 0) return -1;
            add_item(out, f, NULL, id, occ, attempts);
            cnt->pending_again++;
            return 0;
        }
        sqlite3_finalize(st);
        if (!strcmp(state, "failed")) {
            cnt->held++;  /* given up: an operator requeues it (revops outbox --requeue) */
            return 0;
        }
        int rose = (int)f->priority > rank;
        int expired = clock_now() - delivered_at >= pol->suppress_days * 86400.0;
        if (!rose && !expired && !closed_since) {
            cnt->suppressed++;
            return 0;
        }
        occurrence = occ + 1;
        cnt->realerted++;
    } else {
        sqlite3_finalize(st);
    }
    char id[33];
    outbox_delivery_id(f->fingerprint, action, occurrence, id);
    if (insert_delivery(s, id, f, action, pipeline, occurrence, session, err, n) < 0) return -1;
    add_item(out, f, NULL, id, occurrence, 0);
    cnt->fresh++;
    return 0;
}

/* Earlier runs' pending deliveries for this action and pipeline that are
 * due and not already in this run's batch. */
static int due_from_earlier(store *s, const char *action, const char *pipeline, outbox_items *out, outbox_counts *cnt,
                            char *err, size_t n)
{
    sqlite3_stmt *st = store_prepare(s,
        "SELECT delivery_id, occurrence, attempts, finding_json FROM deliveries WHERE action=?1 AND pipeline=?2"
        " AND state='pending' AND next_attempt<=?3 ORDER BY created_at, delivery_id", err, n);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, clock_now());
    size_t already = out->n;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        int in_batch = 0;
        for (size_t i = 0; i < already && !in_batch; i++) in_batch = !strcmp(out->v[i].delivery_id, id);
        if (in_batch) continue;
        char why[256];
        revops_finding *f = finding_from_json((const char *)sqlite3_column_text(st, 3), why, sizeof why);
        if (!f) {
            /* Reported on every run until an operator looks: never
             * delivered as something else, never silently dropped. */
            log_msg(REVOPS_LOG_ERROR, NULL, "outbox: delivery %s to action '%s' cannot be rebuilt: %s", id, action, why);
            cnt->unreadable++;
            continue;
        }
        add_item(out, f, f, id, sqlite3_column_int(st, 1), sqlite3_column_int(st, 2));
        cnt->from_earlier++;
    }
    if (rc != SQLITE_DONE) store_error(s, err, n);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int outbox_enqueue(store *s, const delivery_policy *pol, const char *session, const char *pipeline, const char *action,
                   const revops_finding *const *routed, size_t nrouted, outbox_items *out, outbox_counts *cnt,
                   char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    memset(cnt, 0, sizeof *cnt);
    if (store_begin(s, err, n) < 0) return -1;
    for (size_t i = 0; i < nrouted; i++)
        if (decide(s, pol, routed[i], action, pipeline, session, out, cnt, err, n) < 0) goto fail;
    if (store_commit(s, err, n) < 0) goto fail_committed;
    if (due_from_earlier(s, action, pipeline, out, cnt, err, n) < 0) goto fail_committed;
    return 0;
fail:
    store_rollback(s);
fail_committed:
    outbox_items_free(out);
    return -1;
}

static double backoff(const delivery_policy *pol, int attempts)
{
    double d = pol->retry_backoff * pow(2.0, attempts > 1 ? attempts - 1 : 0);
    return d > pol->retry_backoff_max ? pol->retry_backoff_max : d;
}

int outbox_mark(store *s, const delivery_policy *pol, const outbox_item *it, const char *session, revops_status status,
                const char *why, int *gave_up, char *err, size_t n)
{
    int attempts = it->attempts + 1;
    const char *state = status == REVOPS_OK ? "delivered"
                        : status == REVOPS_RETRY && (pol->retry_runs == 0 || attempts < pol->retry_runs) ? "pending"
                                                                                                            : "failed";
    if (gave_up) *gave_up = status == REVOPS_RETRY && !strcmp(state, "failed");
    sqlite3_stmt *st = store_prepare(s,
        "UPDATE deliveries SET state=?2, attempts=?3, last_error=?4, next_attempt=?5,"
        " delivered_at=CASE WHEN ?2='delivered' THEN ?6 ELSE delivered_at END,"
        " delivered_session=CASE WHEN ?2='delivered' THEN ?7 ELSE delivered_session END,"
        " priority_rank=CASE WHEN ?2='delivered' THEN ?8 ELSE priority_rank END"
        " WHERE delivery_id=?1", err, n);
    if (!st) return -1;
    double now = clock_now();
    sqlite3_bind_text(st, 1, it->delivery_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, attempts);
    if (status == REVOPS_OK) sqlite3_bind_null(st, 4);
    else sqlite3_bind_text(st, 4, why ? why : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 5, status == REVOPS_RETRY ? now + backoff(pol, attempts) : 0);
    sqlite3_bind_double(st, 6, now);
    sqlite3_bind_text(st, 7, session, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, (int)it->f->priority);
    int rc = step_done(s, st, err, n);
    sqlite3_finalize(st);
    return rc;
}

int outbox_requeue(store *s, const char *action, size_t *count, char *err, size_t n)
{
    sqlite3_stmt *st = store_prepare(s,
        "UPDATE deliveries SET state='pending', attempts=0, next_attempt=0 WHERE state='failed'"
        " AND (?1 IS NULL OR action=?1)", err, n);
    if (!st) return -1;
    if (action) sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 1);
    int rc = step_done(s, st, err, n);
    if (rc == 0 && count) *count = (size_t)sqlite3_changes(store_db(s));
    sqlite3_finalize(st);
    return rc;
}
