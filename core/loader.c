/* Plugin loader.  Everything it refuses, it refuses in one sentence that
 * names the file and the reason, because the operator reading it has a
 * broken deployment and needs to know which file to fix or remove. */
#include "config.h"
#include "core.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef REVOPS_PLUGIN_DIR
#define REVOPS_PLUGIN_DIR "/usr/local/lib/revops"
#endif

const char *kind_name(revops_kind k)
{
    switch (k) {
    case REVOPS_KIND_SOURCE: return "source";
    case REVOPS_KIND_ANALYSIS: return "analysis";
    case REVOPS_KIND_ACTION: return "action";
    case REVOPS_KIND_MODEL: return "model";
    }
    return "unknown";
}

const char *plugin_search_path(const char *config_plugin_dir)
{
    if (config_plugin_dir && *config_plugin_dir) return config_plugin_dir;
    const char *env = getenv("REVOPS_PLUGIN_PATH");
    if (env && *env) return env;
    return REVOPS_PLUGIN_DIR;
}

static void refuse(plugin_set *ps, const char *fmt, ...) REVOPS_PRINTF(2, 3);
static void refuse(plugin_set *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    ps->refusals = xrealloc(ps->refusals, (ps->nrefusals + 1) * sizeof *ps->refusals);
    ps->refusals[ps->nrefusals++] = msg;
}

static int valid_name(const char *s)
{
    if (!s || !(*s >= 'a' && *s <= 'z')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* Which vtable entries a kind must fill. */
static const char *vtable_missing(const revops_plugin *d)
{
    switch (d->kind) {
    case REVOPS_KIND_SOURCE:
        if (!d->vt.source) return "vtable";
        if (!d->vt.source->open) return "open";
        if (!d->vt.source->fetch) return "fetch";
        if (!d->vt.source->close) return "close";
        if (d->vt.source->tools && d->vt.source->tools[0].name && !d->vt.source->call_tool) return "call_tool";
        return NULL;
    case REVOPS_KIND_ANALYSIS:
        if (!d->vt.analysis) return "vtable";
        if (!d->vt.analysis->analysis_type) return "analysis_type";
        if (strlen(d->vt.analysis->analysis_type) != 2 || d->vt.analysis->analysis_type[0] != 'A' ||
            d->vt.analysis->analysis_type[1] < '1' || d->vt.analysis->analysis_type[1] > '6')
            return "an analysis_type of A1..A6";
        if (!d->vt.analysis->init) return "init";
        if (!d->vt.analysis->process_chunk) return "process_chunk";
        if (!d->vt.analysis->finalize) return "finalize";
        if (!d->vt.analysis->destroy) return "destroy";
        return NULL;
    case REVOPS_KIND_ACTION:
        if (!d->vt.action) return "vtable";
        if (!d->vt.action->open) return "open";
        if (!d->vt.action->deliver) return "deliver";
        if (!d->vt.action->close) return "close";
        return NULL;
    case REVOPS_KIND_MODEL:
        if (!d->vt.model) return "vtable";
        if (!d->vt.model->open) return "open";
        if (!d->vt.model->complete) return "complete";
        if (!d->vt.model->close) return "close";
        return NULL;
    }
    return NULL;
}

static void load_file(plugin_set *ps, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        refuse(ps, "refusing plugin %s: cannot stat it: %s.", path, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) return;
    /* Never dlopen a file another user could have replaced: loading it runs
     * its constructors with our privileges. */
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        refuse(ps, "refusing plugin %s: the file is writable by group or others (mode %03o); chmod go-w it.",
               path, (unsigned)(st.st_mode & 0777));
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        refuse(ps, "refusing plugin %s: dlopen failed: %s (run `ldd %s` to see which library or symbol is missing).",
               path, e ? e : "unknown error", path);
        return;
    }
    const revops_plugin *d = dlsym(h, REVOPS_DESCRIPTOR_SYMBOL);
    const char *why = NULL;
    char buf[512];
    if (!d) {
        why = "it exports no " REVOPS_DESCRIPTOR_SYMBOL " symbol, so it is not a revops plugin (declare it with REVOPS_PLUGIN)";
    } else if (d->magic != REVOPS_PLUGIN_MAGIC) {
        why = "its " REVOPS_DESCRIPTOR_SYMBOL " has the wrong magic number (not a revops descriptor, or a corrupt one)";
    } else if (d->abi_major != REVOPS_ABI_MAJOR) {
        snprintf(buf, sizeof buf, "it was built for plugin ABI %u.%u but this revops speaks ABI %d.%d; rebuild it against this revops' headers",
                 d->abi_major, d->abi_minor, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR);
        why = buf;
    } else if (d->abi_minor > REVOPS_ABI_MINOR) {
        snprintf(buf, sizeof buf, "it was built for plugin ABI %u.%u, newer than this revops' ABI %d.%d; upgrade revops or rebuild the plugin",
                 d->abi_major, d->abi_minor, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR);
        why = buf;
    } else if (d->struct_size < sizeof(revops_plugin)) {
        snprintf(buf, sizeof buf, "its descriptor is %u bytes, smaller than the %zu bytes ABI %u.%u defines (built against mismatched headers)",
                 d->struct_size, sizeof(revops_plugin), d->abi_major, d->abi_minor);
        why = buf;
    } else if (d->kind != REVOPS_KIND_SOURCE && d->kind != REVOPS_KIND_ANALYSIS && d->kind != REVOPS_KIND_ACTION &&
               !(d->kind == REVOPS_KIND_MODEL && d->abi_minor >= 3)) {
        snprintf(buf, sizeof buf, "it declares unknown kind %d (known: 1 source, 2 analysis, 3 action, 4 model since ABI 1.3)",
                 (int)d->kind);
        why = buf;
    } else if (!valid_name(d->name)) {
        snprintf(buf, sizeof buf, "its name '%s' is not valid (lower-case letters, digits and '_', starting with a letter)",
                 d->name ? d->name : "(null)");
        why = buf;
    } else if (vtable_missing(d)) {
        snprintf(buf, sizeof buf, "its %s vtable lacks '%s'", kind_name(d->kind), vtable_missing(d));
        why = buf;
    } else {
        for (size_t i = 0; d->options && d->options[i].name; i++) {
            char err[256];
            if (option_default_valid(&d->options[i], err, sizeof err) < 0) {
                snprintf(buf, sizeof buf, "the default of its option '%s' is invalid: %s", d->options[i].name, err);
                why = buf;
                break;
            }
        }
        for (size_t i = 0; !why && i < ps->n; i++)
            if (strcmp(ps->v[i].desc->name, d->name) == 0) {
                snprintf(buf, sizeof buf, "the plugin name '%s' is already taken by %s", d->name, ps->v[i].path);
                why = buf;
            }
    }
    if (why) {
        refuse(ps, "refusing plugin %s: %s.", path, why);
        dlclose(h);
        return;
    }
    ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof *ps->v);
    ps->v[ps->n].desc = d;
    ps->v[ps->n].path = xstrdup(path);
    ps->v[ps->n].handle = h;
    ps->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(plugin_set *ps, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        refuse(ps, "cannot read plugin directory %s: %s (set plugin_dir in the configuration or REVOPS_PLUGIN_PATH).",
               dir, strerror(errno));
        return;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        refuse(ps, "refusing plugin directory %s: it is writable by group or others (mode %03o), so anyone could drop a plugin in; chmod go-w it.",
               dir, (unsigned)(st.st_mode & 0777));
        return;
    }
    DIR *dh = opendir(dir);
    if (!dh) {
        refuse(ps, "refusing plugin directory %s: %s.", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t len = strlen(de->d_name);
        if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xasprintf("%s/%s", dir, de->d_name);
        }
    }
    closedir(dh);
    /* Sorted, so "already taken by" is the same on every machine. */
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        load_file(ps, names[i]);
        free(names[i]);
    }
    free(names);
}

void loader_load_path(plugin_set *ps, const char *dirs)
{
    char *copy = xstrdup(dirs), *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) load_dir(ps, d);
    free(copy);
}

const plugin_entry *plugin_find(const plugin_set *ps, revops_kind kind, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].desc->kind == kind && strcmp(ps->v[i].desc->name, name) == 0) return &ps->v[i];
    return NULL;
}

void plugin_set_free(plugin_set *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].path);
        /* Keep the objects mapped under sanitizers so leak reports can
         * still name plugin functions; dlclose otherwise. */
#if !defined(__SANITIZE_ADDRESS__)
        if (!getenv("REVOPS_NO_DLCLOSE")) dlclose(ps->v[i].handle);
#endif
    }
    free(ps->v);
    for (size_t i = 0; i < ps->nrefusals; i++) free(ps->refusals[i]);
    free(ps->refusals);
    memset(ps, 0, sizeof *ps);
}
