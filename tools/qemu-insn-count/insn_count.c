/*
 * insn_count.c: a QEMU TCG plugin that reports how many guest instructions ran.
 *
 * Instruction counts are how this project measures generated code and the runtime: they do not
 * depend on the host's load, so figures stay comparable between runs and machines.
 *
 * QEMU's plugin interface is a C ABI (version 1 in QEMU 7.x). Debian's QEMU supports -plugin but
 * ships no header, so the handful of entry points used here are declared below.
 *
 * How it counts: when QEMU translates a block of guest code, we attach an inline operation that
 * adds the block's instruction count to a 64-bit total every time the block runs. A block left
 * early (a fault in its middle) is counted whole; the programs measured here do not fault.
 *
 * Usage: qemu-aarch64 -plugin ./libinsn_count.so[,out=PATH] -d plugin PROGRAM...
 * Prints "insn_count: <N>" to QEMU's log (stderr) at exit, and to PATH when given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t plugin_id;
struct qemu_info_t;
struct qemu_plugin_tb;
enum inline_op { INLINE_ADD_U64 = 0 };

extern void qemu_plugin_register_vcpu_tb_trans_cb(plugin_id, void (*)(plugin_id, struct qemu_plugin_tb *));
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum inline_op, void *, uint64_t);
extern void qemu_plugin_register_atexit_cb(plugin_id, void (*)(plugin_id, void *), void *);
extern void qemu_plugin_outs(const char *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed;
static char report_path[1024];

static void on_translate(plugin_id id, struct qemu_plugin_tb *block)
{
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(block, INLINE_ADD_U64, &executed, qemu_plugin_tb_n_insns(block));
}

static void on_exit(plugin_id id, void *unused)
{
    (void)id;
    (void)unused;
    char line[64];
    snprintf(line, sizeof line, "insn_count: %llu\n", (unsigned long long)executed);
    qemu_plugin_outs(line);
    if (report_path[0]) {
        FILE *f = fopen(report_path, "w");
        if (f) {
            fputs(line, f);
            fclose(f);
        }
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
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
