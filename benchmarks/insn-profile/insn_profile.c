/*
 * insn_profile.c: a QEMU TCG plugin that counts how often each guest instruction runs, for
 * finding where generated code spends its instructions (scripts/thumb-bench.sh --profile).
 * tools/qemu-insn-count gives the exact total; this one gives the same total split by address.
 *
 * QEMU's plugin interface is a C ABI (version 1 in QEMU 7.x); Debian ships no header, so the
 * entry points used are declared here.
 *
 * How it counts: when QEMU translates a block, every instruction gets a record (address,
 * disassembly, counter) and an inline operation adding 1 to the counter each time it runs. A
 * block translated again gets new records; they are merged by address at exit.
 *
 * Usage: qemu-arm -plugin ./libinsn_profile.so,out=PATH -d plugin PROGRAM...
 * Writes to PATH one line per address that ran, "COUNT ADDRESS DISASSEMBLY", highest count
 * first, after a first line "total: N".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t plugin_id;
struct qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum inline_op { INLINE_ADD_U64 = 0 };

extern void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id, void (*)(plugin_id, struct qemu_plugin_tb *));
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
extern uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
extern char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *);
extern void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, enum inline_op, void *, uint64_t);
extern void qemu_plugin_register_atexit_cb(plugin_id, void (*)(plugin_id, void *), void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One translated instruction. Records live in fixed chunks, so their addresses (which the
 * inline operations write through) never move. */
struct record {
    uint64_t count;
    uint64_t vaddr;
    char *disas;
};

#define CHUNK 65536
static struct record **chunks;
static size_t n_chunks, n_records;
static char report_path[1024];

static struct record *new_record(void)
{
    if (n_records == n_chunks * CHUNK) {
        chunks = realloc(chunks, (n_chunks + 1) * sizeof *chunks);
        chunks[n_chunks] = calloc(CHUNK, sizeof(struct record));
        if (!chunks || !chunks[n_chunks]) {
            abort();
        }
        n_chunks++;
    }
    struct record *r = &chunks[n_records / CHUNK][n_records % CHUNK];
    n_records++;
    return r;
}

static void on_translate(plugin_id id, struct qemu_plugin_tb *block)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(block);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(block, i);
        struct record *r = new_record();
        r->vaddr = qemu_plugin_insn_vaddr(insn);
        r->disas = qemu_plugin_insn_disas(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, INLINE_ADD_U64, &r->count, 1);
    }
}

static int by_address(const void *a, const void *b)
{
    const struct record *x = *(struct record *const *)a, *y = *(struct record *const *)b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int by_count(const void *a, const void *b)
{
    const struct record *x = *(struct record *const *)a, *y = *(struct record *const *)b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static void report(plugin_id id, void *unused)
{
    (void)id;
    (void)unused;
    struct record **all = malloc((n_records + 1) * sizeof *all);
    if (!all) {
        return;
    }
    for (size_t i = 0; i < n_records; i++) {
        all[i] = &chunks[i / CHUNK][i % CHUNK];
    }
    qsort(all, n_records, sizeof *all, by_address);
    /* Merge the records of each address into its first. */
    size_t kept = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n_records; i++) {
        total += all[i]->count;
        if (kept > 0 && all[kept - 1]->vaddr == all[i]->vaddr) {
            all[kept - 1]->count += all[i]->count;
        } else {
            all[kept++] = all[i];
        }
    }
    qsort(all, kept, sizeof *all, by_count);
    FILE *f = report_path[0] ? fopen(report_path, "w") : stderr;
    if (!f) {
        return;
    }
    fprintf(f, "total: %llu\n", (unsigned long long)total);
    for (size_t i = 0; i < kept && all[i]->count > 0; i++) {
        fprintf(f, "%llu %#llx %s\n", (unsigned long long)all[i]->count, (unsigned long long)all[i]->vaddr,
                all[i]->disas ? all[i]->disas : "?");
    }
    if (f != stderr) {
        fclose(f);
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(plugin_id id, const struct qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            strncpy(report_path, argv[i] + 4, sizeof report_path - 1);
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, report, NULL);
    return 0;
}
