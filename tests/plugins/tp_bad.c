/* Test plugins the loader must refuse; which defect is chosen at build time:
 *   -DBAD_MAJOR, -DBAD_MINOR, -DBAD_KIND, -DBAD_SIZE, -DBAD_MAGIC, -DNO_DESCRIPTOR,
 *   -DDUP_NAME (a second plugin called tp_rows), -DNO_FETCH. */
#include <revops/revops.h>
#include <stddef.h>

static revops_status o(revops_instance *s, const revops_host *h, const revops_options *op, void **c)
{
    (void)s; (void)h; (void)op; *c = NULL;
    return REVOPS_OK;
}
static revops_status __attribute__((unused)) f(void *c, const revops_query *q, revops_stream *s)
{
    (void)c; (void)q; (void)s;
    return REVOPS_OK;
}
static void cl(void *c)
{
    (void)c;
}
#ifdef NO_FETCH
static const revops_source_vtable vt = { o, NULL, cl, NULL, NULL, NULL };
#else
static const revops_source_vtable vt = { o, f, cl, NULL, NULL, NULL };
#endif

#ifndef TP_NAME
#define TP_NAME "tp_bad"
#endif
#if defined(BAD_MAJOR)
#define HDR REVOPS_PLUGIN_MAGIC, REVOPS_ABI_MAJOR + 1, 0, (uint32_t)sizeof(revops_plugin)
#elif defined(BAD_MINOR)
#define HDR REVOPS_PLUGIN_MAGIC, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR + 1, (uint32_t)sizeof(revops_plugin)
#elif defined(BAD_SIZE)
#define HDR REVOPS_PLUGIN_MAGIC, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR, 16u
#elif defined(BAD_MAGIC)
#define HDR 0xdeadbeefu, REVOPS_ABI_MAJOR, REVOPS_ABI_MINOR, (uint32_t)sizeof(revops_plugin)
#else
#define HDR REVOPS_PLUGIN_HEADER
#endif
#ifdef BAD_KIND
#define KIND ((revops_kind)9)
#else
#define KIND REVOPS_KIND_SOURCE
#endif

#ifdef NO_DESCRIPTOR
REVOPS_EXPORT extern const revops_plugin not_the_descriptor;
const revops_plugin not_the_descriptor =
#else
REVOPS_PLUGIN =
#endif
    { HDR, KIND, TP_NAME, "0.0.1", "a plugin the loader must refuse", NULL, { .source = &vt } };
