/*
 * Scheduling and execution attributes the process inherits across execve: the scheduler
 * (process.scheduler), the I/O priority (process.ioPriority), the CPU affinity
 * (process.execCPUAffinity) and the personality (linux.personality). tsrunc computes every
 * value; the stage makes the calls. Also the NUMA memory policy (linux.memoryPolicy).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stage.h"

/* struct sched_attr as the kernel takes it (SCHED_ATTR_SIZE_VER0: 48 bytes, no utilization clamps). */
struct sched_attr_v0 {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

/* sched-setattr: ints policy, flags, nice, priority, runtime, deadline, period */
void op_sched_setattr(const struct op *op) {
  struct sched_attr_v0 attr = {
    .size = sizeof attr,
    .sched_policy = (uint32_t)op_int(op, 0),
    .sched_flags = (uint64_t)op_int(op, 1),
    .sched_nice = (int32_t)op_int(op, 2),
    .sched_priority = (uint32_t)op_int(op, 3),
    .sched_runtime = (uint64_t)op_int(op, 4),
    .sched_deadline = (uint64_t)op_int(op, 5),
    .sched_period = (uint64_t)op_int(op, 6),
  };
  if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) fail_call(op, "sched_setattr", errno);
}

/* ioprio-set: ints the value ((class << 13) | level), for this process (IOPRIO_WHO_PROCESS, 0) */
void op_ioprio_set(const struct op *op) {
  if (syscall(SYS_ioprio_set, 1, 0, (int)op_int(op, 0)) < 0) fail_call(op, "ioprio_set", errno);
}

/* personality: ints the persona */
void op_personality(const struct op *op) {
  if (personality((unsigned long)op_int(op, 0)) < 0) fail_call(op, "personality", errno);
}

/* sched-setaffinity: ints the CPUs */
void op_sched_setaffinity(const struct op *op) {
  int64_t highest = 0;
  for (uint32_t i = 0; i < op->n_ints; i++) highest = op_int(op, i) > highest ? op_int(op, i) : highest;
  size_t size = CPU_ALLOC_SIZE(highest + 1);
  cpu_set_t *set = CPU_ALLOC(highest + 1);
  if (!set) fail_call(op, "CPU_ALLOC", ENOMEM);
  CPU_ZERO_S(size, set);
  for (uint32_t i = 0; i < op->n_ints; i++) CPU_SET_S((size_t)op_int(op, i), size, set);
  if (sched_setaffinity(0, size, set) < 0) fail_call(op, "sched_setaffinity", errno);
  CPU_FREE(set);
}

/* set-mempolicy: ints the mode (with its MPOL_F_* flags), then the nodes */
void op_set_mempolicy(const struct op *op) {
  int64_t highest = -1;
  for (uint32_t i = 1; i < op->n_ints; i++) highest = op_int(op, i) > highest ? op_int(op, i) : highest;
  const size_t bits = 8 * sizeof(unsigned long);
  size_t words = highest < 0 ? 1 : (size_t)highest / bits + 1;
  unsigned long *mask = calloc(words, sizeof *mask);
  if (!mask) fail_call(op, "calloc", ENOMEM);
  for (uint32_t i = 1; i < op->n_ints; i++) mask[op_int(op, i) / bits] |= 1UL << (op_int(op, i) % bits);
  /* maxnode counts one past the last bit the kernel reads. */
  unsigned long maxnode = highest < 0 ? 0 : words * bits + 1;
  if (syscall(SYS_set_mempolicy, (int)op_int(op, 0), highest < 0 ? NULL : mask, maxnode) < 0) fail_call(op, "set_mempolicy", errno);
  free(mask);
}
