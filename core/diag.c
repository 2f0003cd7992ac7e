/* Collected configuration diagnostics, printed as "file:line: message". */
#include "config.h"
#include "core.h"

#include <stdlib.h>

typedef struct diag_item { char *file; int line; char *msg; } diag_item;
struct diag { diag_item *items; size_t n, cap; };

diag *diag_new(void)
{
    return xcalloc(1, sizeof(diag));
}

void diag_add(diag *d, const char *file, int line, const char *fmt, ...)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = xrealloc(d->items, d->cap * sizeof *d->items);
    }
    va_list ap;
    va_start(ap, fmt);
    d->items[d->n].msg = xvasprintf(fmt, ap);
    va_end(ap);
    d->items[d->n].file = xstrdup(file ? file : "(config)");
    d->items[d->n].line = line;
    d->n++;
}

size_t diag_count(const diag *d)
{
    return d->n;
}

void diag_print(const diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i].line > 0)
            fprintf(out, "%s:%d: %s\n", d->items[i].file, d->items[i].line, d->items[i].msg);
        else
            fprintf(out, "%s: %s\n", d->items[i].file, d->items[i].msg);
    }
}

void diag_free(diag *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].msg);
    }
    free(d->items);
    free(d);
}
