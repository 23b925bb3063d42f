/* wpdiff live helper: runs one COW litmus program as real processes on this
 * machine's kernel, --runs times, and prints what each run observed.
 *
 * The project's own code (no kernel source in it).  Built at first use by
 * wpdiff.oracle.live with the machine's cc, cached by the hash of this file.
 *
 * Input on stdin, one directive a line, every field an integer but tmpdir:
 *   runs N | cpu C (-1: not pinned) | tmpdir PATH | procs N | p0fork 0|1
 *   start P            a process that exists before the first step (P0 always)
 *   var V OWNER LARGE INIT     an anonymous mapping made at the start of a run
 *   step GROUP PROC OP VAR ARG OBJ REG SUB   steps in program order; steps
 *        with the same GROUP run concurrently; SUB is a page of a large
 *        variable (-1: page 0 for an access, the whole mapping otherwise)
 *   go
 * Output, one line per run:
 *   run K r<REG>=<byte> ... f<STEP>=<kind>,<mapcount>,<ae before>,<ae after>,<lru before>,<minflt> ... t<VAR>=<0|1>
 * or, when a system call fails:  err <STEP> <what> <errno> <strerror>
 * and "done" at the end.  Exit 0 after "done", 1 after "err", 2 on bad input.
 *
 * The processes: the helper itself is the controller.  P0 runs in it (unless
 * P0 exits, p0fork 1); every other process is a fork that serves commands
 * from its own pipe and answers on another.  Concurrent steps run in
 * threads of their processes, each released by one shared flag.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef NO_LIBURING
#include <liburing.h>
#endif

#define PS 4096UL
#define HPS (2UL << 20)
#define MAXP 16
#define MAXV 16
#define MAXO 16
#define MAXS 128
#define MAXR 64
#define MAXG 8

enum op {
    OP_FORK = 1, OP_EXIT, OP_WRITE, OP_READ, OP_VMSPLICE, OP_PIPEREAD, OP_MUNMAP, OP_DONTNEED,
    OP_DONTFORK, OP_MPROTECT, OP_PIN_RW, OP_PIN_RO, OP_PINREAD, OP_UNPIN, OP_NOP, OP_DOFORK, OP_PINWRITE,
};

struct step { int group, proc, op, var, arg, obj, reg, sub; };
struct var { int owner, large, init; };

/* what one step did, sent back to the controller */
struct result {
    int step, err, child_pid, has_value, value, has_fault;
    char what[40];
    char kind;                     /* 'c' copy, 'r' reuse, 'n' no fault, 'f' fault-in (not present before) */
    int mapcount, ae0, ae1, lru0, minflt;
};
struct cmd { int first, count, quit; };
struct reply { int n; struct result r[MAXG]; };

/* the program */
static int runs = 1, cpu = -1, nprocs = 1, p0fork, nvars, nsteps;
static int starts[MAXP];
static struct var vars[MAXV];
static struct step steps[MAXS];
static char tmpdir[512] = "/tmp";

/* per process (each fork has its own copy) */
static int me;                     /* which Pn this process is; -1 the bare controller */
static int pm_fd = -1, kpc_fd = -1, kpf_fd = -1;
static char *addr[MAXV];
static size_t len[MAXV];
struct obj {
    int kind;                      /* 0 none, 1 pipe, 2 io_uring pin, 3 O_DIRECT pin */
    int fd[2];
    char *base; /* the pinned page, even once unmapped */
#ifndef NO_LIBURING
    struct io_uring ring;
#endif
};
static struct obj objs[MAXO];

/* controller only */
static int cmdfd[MAXP][2], repfd[MAXP][2];
static pid_t pids[MAXP];
static int pidfds[MAXP];
static int alive[MAXP];
static int regs[MAXR], regset[MAXR];
static struct result faults[MAXS];
static int nfaults;
static int thp[MAXV];

/* released together: the controller counts the ready and flips the flag */
struct gate { _Atomic int ready, release; };
static struct gate *gate;

static void *(*volatile memset_fn)(void *, int, size_t) = memset;
static char scratch[PS] __attribute__((aligned(4096)));

static int fail(struct result *r, const char *what) {
    r->err = errno ? errno : EIO;
    snprintf(r->what, sizeof r->what, "%s", what);
    return -1;
}

static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_minflt;
}

struct snap { uint64_t pfn, mapcount, flags; int present; };
static struct snap snap(void *a) {
    struct snap s = {0};
    uint64_t e = 0;
    if (pread(pm_fd, &e, 8, ((uintptr_t)a / PS) * 8) != 8) return s;
    s.present = (int)(e >> 63);
    if (!s.present) return s;
    s.pfn = e & ((1ULL << 55) - 1);
    if (pread(kpc_fd, &s.mapcount, 8, s.pfn * 8) != 8) s.mapcount = ~0ULL;
    if (pread(kpf_fd, &s.flags, 8, s.pfn * 8) != 8) s.flags = 0;
    return s;
}
#define KPF_LRU 5
#define KPF_ANON 12
#define KPF_THP 22
#define KPF_AE 34 /* KPF_OWNER_2, PG_anon_exclusive on an anonymous page */
static int bit(uint64_t f, int b) { return (int)((f >> b) & 1); }
static int ae(struct snap s) { return s.present && bit(s.flags, KPF_ANON) ? bit(s.flags, KPF_AE) : 0; }

/* The fault a write (or an unshare) took, told by the PFN before and after
 * and the thread's minor faults; `how` does the access. */
static void observe(struct result *r, struct snap a, long flt, struct snap b) {
    r->has_fault = 1;
    r->kind = !a.present ? 'f' : a.pfn != b.pfn ? 'c' : flt ? 'r' : 'n';
    r->mapcount = a.present ? (int)a.mapcount : 0;
    r->ae0 = ae(a);
    r->ae1 = ae(b);
    r->lru0 = a.present ? bit(a.flags, KPF_LRU) : 0;
    r->minflt = (int)flt;
}

static void warm_up(void) {
    /* a fresh fork takes its own faults on the first getrusage() and memset();
     * run the measured path twice on a page that is already writable */
    for (int i = 0; i < 2; i++) {
        minflt();
        memset_fn(scratch, i, 64);
        minflt();
    }
}

static int open_tmp(struct result *r, int flags) {
    char path[600];
    snprintf(path, sizeof path, "%s/pin.XXXXXX", tmpdir);
    int fd = mkostemp(path, flags);
    if (fd < 0) return fail(r, "mkostemp"), -1;
    unlink(path); /* nothing left behind, whatever happens next */
    return fd;
}

static int reopen_pagemap(void) {
    /* an inherited pagemap fd still reads the parent's mm */
    if (pm_fd >= 0) close(pm_fd);
    pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    return pm_fd;
}

static void serve(void) __attribute__((noreturn));
static pid_t controller;

/* A forked process keeps only the pipe ends a served process uses: so when
 * the controller dies (killed on a timeout, say) every read of a command
 * pipe sees end-of-file and the process exits.  Not PR_SET_PDEATHSIG: that
 * would kill P1 when its parent P0 exits, which a program may ask for. */
static void close_controller_ends(void);
static void as_child(void) { close_controller_ends(); }
static void orphaned_check(unsigned *spins) {
    if (++*spins % 4096 == 0 && kill(controller, 0) < 0 && errno == ESRCH) _exit(5);
}

static int do_step(int k, struct result *r) {
    struct step *s = &steps[k];
    char *a = s->var >= 0 && addr[s->var] ? addr[s->var] + (s->sub > 0 ? s->sub * PS : 0) : NULL;
    struct obj *o = s->obj >= 0 ? &objs[s->obj] : NULL;
    size_t n = s->var < 0 ? 0 : s->sub >= 0 ? PS : len[s->var];
    memset(r, 0, sizeof *r);
    r->step = k;
    errno = 0;
    int through_pin = s->op == OP_PINREAD || s->op == OP_PINWRITE || s->op == OP_UNPIN;
    if (s->var >= 0 && !a && s->op != OP_NOP && !through_pin) { errno = EFAULT; return fail(r, "variable not mapped here"); }
    switch (s->op) {
    case OP_FORK: {
        pid_t p = fork();
        if (p < 0) return fail(r, "fork");
        if (p == 0) {
            me = s->arg;
            as_child();
            if (reopen_pagemap() < 0) _exit(3);
            serve();
        }
        r->child_pid = p;
        return 0;
    }
    case OP_EXIT:
        return 0; /* the caller exits after replying */
    case OP_WRITE: {
        warm_up();
        struct snap b0 = snap(a);
        long f0 = minflt();
        memset_fn(a, s->arg, PS);
        long f1 = minflt();
        observe(r, b0, f1 - f0, snap(a));
        return 0;
    }
    case OP_READ:
        r->has_value = 1;
        r->value = *(volatile unsigned char *)a;
        return 0;
    case OP_VMSPLICE: {
        if (pipe2(o->fd, O_CLOEXEC) < 0) return fail(r, "pipe2");
        o->kind = 1;
        struct iovec iov = {a, PS};
        if (vmsplice(o->fd[1], &iov, 1, 0) != (ssize_t)PS) return fail(r, "vmsplice");
        return 0;
    }
    case OP_PIPEREAD: {
        if (o->kind != 1) { errno = EBADF; return fail(r, "pipe read of a pipe not spliced here"); }
        size_t got = 0;
        while (got < PS) {
            ssize_t m = read(o->fd[0], scratch + got, PS - got);
            if (m <= 0) return fail(r, "read(pipe)");
            got += (size_t)m;
        }
        r->has_value = 1;
        r->value = (unsigned char)scratch[0];
        return 0;
    }
    case OP_MUNMAP:
        if (munmap(a, n) < 0) return fail(r, "munmap");
        if (n == len[s->var]) addr[s->var] = NULL;
        return 0;
    case OP_DONTNEED:
        if (madvise(a, n, MADV_DONTNEED) < 0) return fail(r, "madvise(MADV_DONTNEED)");
        return 0;
    case OP_DONTFORK:
        if (madvise(a, n, MADV_DONTFORK) < 0) return fail(r, "madvise(MADV_DONTFORK)");
        return 0;
    case OP_DOFORK:
        if (madvise(a, n, MADV_DOFORK) < 0) return fail(r, "madvise(MADV_DOFORK)");
        return 0;
    case OP_PINWRITE: {
        /* the device writes through the fixed buffer: READ_FIXED from a file */
        if (o->kind != 2) { errno = EBADF; return fail(r, "pin write through a pin that is not R/W here"); }
#ifndef NO_LIBURING
        memset(scratch, s->arg, PS);
        if (pwrite(o->fd[0], scratch, PS, 0) != (ssize_t)PS) return fail(r, "pwrite(pin file)");
        struct io_uring_sqe *q = io_uring_get_sqe(&o->ring);
        io_uring_prep_read_fixed(q, o->fd[0], o->base, PS, 0, 0);
        int e = io_uring_submit(&o->ring);
        if (e < 0) { errno = -e; return fail(r, "io_uring_submit"); }
        struct io_uring_cqe *c;
        e = io_uring_wait_cqe(&o->ring, &c);
        if (e < 0) { errno = -e; return fail(r, "io_uring_wait_cqe"); }
        int res = c->res;
        io_uring_cqe_seen(&o->ring, c);
        if (res != (int)PS) { errno = res < 0 ? -res : EIO; return fail(r, "IORING_OP_READ_FIXED"); }
#endif
        return 0;
    }
    case OP_MPROTECT:
        if (mprotect(a, n, s->arg ? PROT_READ | PROT_WRITE : PROT_READ) < 0) return fail(r, "mprotect");
        return 0;
    case OP_PIN_RW: {
#ifdef NO_LIBURING
        errno = ENOSYS;
        return fail(r, "io_uring (built without liburing)");
#else
        int e = io_uring_queue_init(4, &o->ring, 0);
        if (e < 0) { errno = -e; return fail(r, "io_uring_queue_init"); }
        o->kind = 2;
        o->fd[0] = -1;
        o->base = a;
        struct iovec iov = {a, PS};
        e = io_uring_register_buffers(&o->ring, &iov, 1);
        if (e < 0) { errno = -e; return fail(r, "io_uring_register_buffers"); }
        if ((o->fd[0] = open_tmp(r, O_CLOEXEC)) < 0) return -1;
        return 0;
#endif
    }
    case OP_PIN_RO: {
        /* a short-term R/O FOLL_PIN: the block layer pins the buffer of an
         * O_DIRECT write; on a page that is not exclusive GUP asks for an
         * unshare fault first */
        int fd = open_tmp(r, O_CLOEXEC | O_DIRECT);
        if (fd < 0) return -1;
        o->kind = 3;
        o->fd[0] = fd;
        warm_up();
        struct snap b0 = snap(a);
        long f0 = minflt();
        ssize_t w = write(fd, a, PS);
        long f1 = minflt();
        if (w != (ssize_t)PS) return fail(r, "write(O_DIRECT)");
        observe(r, b0, f1 - f0, snap(a));
        return 0;
    }
    case OP_PINREAD: {
        if (o->kind == 2) {
#ifndef NO_LIBURING
            /* what the device reads through the fixed buffer */
            struct io_uring_sqe *q = io_uring_get_sqe(&o->ring);
            io_uring_prep_write_fixed(q, o->fd[0], o->base, PS, 0, 0);
            int e = io_uring_submit(&o->ring);
            if (e < 0) { errno = -e; return fail(r, "io_uring_submit"); }
            struct io_uring_cqe *c;
            e = io_uring_wait_cqe(&o->ring, &c);
            if (e < 0) { errno = -e; return fail(r, "io_uring_wait_cqe"); }
            int res = c->res;
            io_uring_cqe_seen(&o->ring, c);
            if (res != (int)PS) { errno = res < 0 ? -res : EIO; return fail(r, "IORING_OP_WRITE_FIXED"); }
#endif
        } else if (o->kind != 3) {
            errno = EBADF;
            return fail(r, "pin read of a pin not taken here");
        }
        /* aligned and whole: the O_DIRECT file refuses anything else */
        if (pread(o->fd[0], scratch, PS, 0) != (ssize_t)PS) return fail(r, "pread(pin file)");
        r->has_value = 1;
        r->value = (unsigned char)scratch[0];
        return 0;
    }
    case OP_UNPIN:
#ifndef NO_LIBURING
        if (o->kind == 2) {
            io_uring_unregister_buffers(&o->ring);
            io_uring_queue_exit(&o->ring);
        }
#endif
        if (o->kind >= 2 && o->fd[0] >= 0) close(o->fd[0]);
        o->kind = 0;
        return 0;
    case OP_NOP:
        return 0;
    }
    errno = EINVAL;
    return fail(r, "unknown operation");
}

/* ---- concurrent steps: one thread each, released together ---------------- */

struct member { int k; struct result *r; };
static void *member_thread(void *p) {
    struct member *m = p;
    atomic_fetch_add(&gate->ready, 1);
    unsigned spins = 0;
    while (!atomic_load(&gate->release)) { sched_yield(); orphaned_check(&spins); }
    do_step(m->k, m->r);
    return NULL;
}

/* Run the steps of [first, first+count) that belong to this process. */
static void run_mine(int first, int count, struct reply *rep) {
    rep->n = 0;
    if (count == 1) {
        rep->n = 1;
        do_step(first, &rep->r[0]);
        return;
    }
    pthread_t th[MAXG];
    struct member m[MAXG];
    for (int k = first; k < first + count; k++) {
        if (steps[k].proc != me) continue;
        int i = rep->n++;
        m[i] = (struct member){k, &rep->r[i]};
        if (pthread_create(&th[i], NULL, member_thread, &m[i]) != 0) {
            errno = EAGAIN;
            memset(&rep->r[i], 0, sizeof rep->r[i]);
            rep->r[i].step = k;
            fail(&rep->r[i], "pthread_create");
            th[i] = 0;
        }
    }
    for (int i = 0; i < rep->n; i++)
        if (th[i]) pthread_join(th[i], NULL);
}

static void close_controller_ends(void) {
    for (int p = 0; p < nprocs; p++) {
        if (cmdfd[p][1] >= 0) { close(cmdfd[p][1]); cmdfd[p][1] = -1; }
        if (repfd[p][0] >= 0) { close(repfd[p][0]); repfd[p][0] = -1; }
    }
}

static int write_full(int fd, const void *b, size_t n) {
    const char *p = b;
    while (n) {
        ssize_t m = write(fd, p, n);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) return -1;
        p += m;
        n -= (size_t)m;
    }
    return 0;
}
static int read_full(int fd, void *b, size_t n) {
    char *p = b;
    while (n) {
        ssize_t m = read(fd, p, n);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) return -1;
        p += m;
        n -= (size_t)m;
    }
    return 0;
}

static void serve(void) {
    for (;;) {
        struct cmd c;
        if (read_full(cmdfd[me][0], &c, sizeof c) < 0 || c.quit) _exit(0);
        static struct reply rep;
        run_mine(c.first, c.count, &rep);
        int exiting = 0;
        for (int i = 0; i < rep.n; i++) exiting |= steps[rep.r[i].step].op == OP_EXIT;
        if (write_full(repfd[me][1], &rep, sizeof rep) < 0) _exit(4);
        if (exiting) _exit(0);
    }
}

/* ---- the controller ---------------------------------------------------- */

static void report_err(const struct result *r) {
    printf("err %d %s %d %s\n", r->step, r->what, r->err, strerror(r->err));
}

static int wait_dead(int p) {
    struct pollfd q = {pidfds[p], POLLIN, 0};
    while (poll(&q, 1, 5000) < 0 && errno == EINTR) ;
    close(pidfds[p]);
    alive[p] = 0;
    return 0;
}

static int track(int p, pid_t pid) {
    pids[p] = pid;
    pidfds[p] = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfds[p] < 0) return -1;
    alive[p] = 1;
    return 0;
}

/* wait for process p's reply, or notice that it died */
static int await(int p, struct reply *rep) {
    struct pollfd q[2] = {{repfd[p][0], POLLIN, 0}, {pidfds[p], POLLIN, 0}};
    for (;;) {
        if (poll(q, 2, 10000) <= 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (q[0].revents & POLLIN) return read_full(repfd[p][0], rep, sizeof *rep);
        if (q[1].revents) return -2;
    }
}

static void record(const struct result *r) {
    const struct step *s = &steps[r->step];
    if (r->has_value && s->reg >= 0) { regs[s->reg] = r->value; regset[s->reg] = 1; }
    if (r->has_fault) faults[nfaults++] = *r;
}

static int dispatch(int first, int count) {
    int involved[MAXP] = {0};
    for (int k = first; k < first + count; k++) involved[steps[k].proc] = 1;
    if (count > 1) { atomic_store(&gate->ready, 0); atomic_store(&gate->release, 0); }
    struct cmd c = {first, count, 0};
    for (int p = 0; p < nprocs; p++) {
        if (!involved[p] || p == me) continue;
        if (!alive[p]) {
            struct result r = {.step = first, .err = ESRCH};
            snprintf(r.what, sizeof r.what, "P%d is not running", p);
            report_err(&r);
            return -1;
        }
        if (write_full(cmdfd[p][1], &c, sizeof c) < 0) {
            struct result r = {.step = first, .err = errno};
            snprintf(r.what, sizeof r.what, "write(command pipe of P%d)", p);
            report_err(&r);
            return -1;
        }
    }
    static struct reply mine;
    mine.n = 0;
    int local = me >= 0 && involved[me];
    if (local && count > 1) {
        /* our own members run in threads too; release once every member,
         * here and in the other processes, stands at the gate */
        pthread_t th[MAXG];
        struct member m[MAXG];
        for (int k = first; k < first + count; k++) {
            if (steps[k].proc != me) continue;
            int i = mine.n++;
            m[i] = (struct member){k, &mine.r[i]};
            if (pthread_create(&th[i], NULL, member_thread, &m[i]) != 0) {
                struct result r = {.step = k, .err = EAGAIN};
                snprintf(r.what, sizeof r.what, "pthread_create");
                report_err(&r);
                return -1;
            }
        }
        while (atomic_load(&gate->ready) < count) sched_yield();
        atomic_store(&gate->release, 1);
        for (int i = 0; i < mine.n; i++) pthread_join(th[i], NULL);
    } else if (count > 1) {
        while (atomic_load(&gate->ready) < count) sched_yield();
        atomic_store(&gate->release, 1);
    } else if (local) {
        run_mine(first, count, &mine);
    }
    int bad = 0;
    for (int i = 0; i < mine.n; i++) {
        if (mine.r[i].err) { if (!bad) report_err(&mine.r[i]); bad = 1; }
        else record(&mine.r[i]);
        if (!mine.r[i].err && steps[mine.r[i].step].op == OP_FORK &&
            track(steps[mine.r[i].step].arg, mine.r[i].child_pid) < 0) {
            struct result r = {.step = mine.r[i].step, .err = errno};
            snprintf(r.what, sizeof r.what, "pidfd_open");
            if (!bad) report_err(&r);
            bad = 1;
        }
    }
    for (int p = 0; p < nprocs; p++) {
        if (!involved[p] || p == me) continue;
        static struct reply rep;
        int e = await(p, &rep);
        if (e < 0) {
            struct result r = {.step = first, .err = e == -2 ? ECHILD : errno};
            snprintf(r.what, sizeof r.what, e == -2 ? "P%d died" : "reply of P%d", p);
            if (!bad) report_err(&r);
            bad = 1;
            if (e == -2) wait_dead(p);
            continue;
        }
        for (int i = 0; i < rep.n; i++) {
            struct result *r = &rep.r[i];
            if (r->err) { if (!bad) report_err(r); bad = 1; continue; }
            record(r);
            if (steps[r->step].op == OP_FORK && track(steps[r->step].arg, r->child_pid) < 0) {
                struct result x = {.step = r->step, .err = errno};
                snprintf(x.what, sizeof x.what, "pidfd_open");
                if (!bad) report_err(&x);
                bad = 1;
            }
            if (steps[r->step].op == OP_EXIT) wait_dead(p);
        }
    }
    return bad ? -1 : 0;
}

static int thp_mapped(char *a) { struct snap s = snap(a); return s.present && bit(s.flags, KPF_THP); }

/* map variable v in this process, filled with its initial byte */
static int map_var(int v, struct result *r) {
    r->step = -1;
    if (!vars[v].large) {
        char *a = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED) return fail(r, "mmap");
        memset_fn(a, vars[v].init, PS);
        addr[v] = a;
        len[v] = PS;
        return 0;
    }
    /* a PTE-mapped large folio: a PMD THP where MADV_HUGEPAGE gives one,
     * its PMD split by mprotect() of one subpage (as cow.c does) */
    char *m = mmap(NULL, 2 * HPS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return fail(r, "mmap");
    char *a = (char *)(((uintptr_t)m + HPS - 1) & ~(HPS - 1));
    if (a > m) munmap(m, (size_t)(a - m));
    if (a + HPS < m + 2 * HPS) munmap(a + HPS, (size_t)(m + 2 * HPS - (a + HPS)));
    addr[v] = a;
    len[v] = HPS;
    if (madvise(a, HPS, MADV_HUGEPAGE) < 0) return fail(r, "madvise(MADV_HUGEPAGE)");
    /* the world's large folio is 4 pages (order 2); they all start with the
     * initial value, the rest of the 2 MiB THP stays zero */
    memset_fn(a, vars[v].init, 4 * PS);
    if (mprotect(a + PS, PS, PROT_READ) < 0 || mprotect(a + PS, PS, PROT_READ | PROT_WRITE) < 0)
        return fail(r, "mprotect (PTE-map the THP)");
    thp[v] = thp_mapped(a);
    return 0;
}

static void cleanup_local(void) {
    for (int i = 0; i < MAXO; i++) {
        struct obj *o = &objs[i];
        if (o->kind == 1) { close(o->fd[0]); close(o->fd[1]); }
#ifndef NO_LIBURING
        if (o->kind == 2) { io_uring_unregister_buffers(&o->ring); io_uring_queue_exit(&o->ring); }
#endif
        if (o->kind >= 2 && o->fd[0] >= 0) close(o->fd[0]);
        o->kind = 0;
    }
    for (int v = 0; v < nvars; v++)
        if (addr[v]) { munmap(addr[v], len[v]); addr[v] = NULL; }
}

/* a process that exists from the start maps its own variables */
static void init_child(void) {
    as_child();
    if (reopen_pagemap() < 0) _exit(3);
    static struct reply rep;
    rep.n = 1;
    memset(&rep.r[0], 0, sizeof rep.r[0]);
    for (int v = 0; v < nvars; v++)
        if (vars[v].owner == me && map_var(v, &rep.r[0]) < 0) break;
    if (write_full(repfd[me][1], &rep, sizeof rep) < 0) _exit(4);
    serve();
}

static int one_run(int run) {
    memset(regset, 0, sizeof regset);
    nfaults = 0;
    memset(thp, 0, sizeof thp);
    int rc = 0;
    me = p0fork ? -1 : 0;
    for (int p = 0; p < nprocs; p++) alive[p] = 0;
    if (me == 0) alive[0] = 1;
    for (int p = 0; p < nprocs && rc == 0; p++) {
        if (!starts[p] || p == me) continue;
        pid_t c = fork();
        if (c < 0) { struct result r = {.step = -1, .err = errno}; strcpy(r.what, "fork"); report_err(&r); rc = -1; break; }
        if (c == 0) { me = p; init_child(); }
        if (track(p, c) < 0) { struct result r = {.step = -1, .err = errno}; strcpy(r.what, "pidfd_open"); report_err(&r); rc = -1; break; }
        static struct reply rep;
        int e = await(p, &rep);
        if (e < 0 || rep.r[0].err) {
            struct result r = e < 0 ? (struct result){.step = -1, .err = ECHILD} : rep.r[0];
            if (e < 0) snprintf(r.what, sizeof r.what, "P%d did not start", p);
            report_err(&r);
            rc = -1;
        }
    }
    if (rc == 0 && me == 0) {
        for (int v = 0; v < nvars && rc == 0; v++) {
            struct result r = {0};
            if (vars[v].owner == 0 && map_var(v, &r) < 0) { report_err(&r); rc = -1; }
        }
    }
    for (int k = 0; k < nsteps && rc == 0;) {
        int n = 1;
        while (k + n < nsteps && steps[k + n].group == steps[k].group) n++;
        if (n > MAXG) n = MAXG;
        rc = dispatch(k, n);
        k += n;
    }
    if (rc == 0) {
        printf("run %d", run);
        for (int i = 0; i < MAXR; i++)
            if (regset[i]) printf(" r%d=%d", i, regs[i]);
        for (int i = 0; i < nfaults; i++) {
            struct result *f = &faults[i];
            printf(" f%d=%c,%d,%d,%d,%d,%d", f->step, f->kind, f->mapcount, f->ae0, f->ae1, f->lru0, f->minflt);
        }
        for (int v = 0; v < nvars; v++)
            if (vars[v].large) printf(" t%d=%d", v, thp[v]);
        printf("\n");
    }
    /* nothing survives a run: every process told to quit and waited for */
    struct cmd q = {0, 0, 1};
    for (int p = 0; p < nprocs; p++) {
        if (!alive[p] || p == me) continue;
        write_full(cmdfd[p][1], &q, sizeof q);
        wait_dead(p);
    }
    if (me == 0) cleanup_local();
    return rc;
}

static void bad_input(int line, const char *what) {
    fprintf(stderr, "wpdiff-live: stdin:%d: %s\n", line, what);
    exit(2);
}

int main(void) {
    char buf[1024];
    int line = 0;
    while (fgets(buf, sizeof buf, stdin)) {
        line++;
        char key[32];
        if (sscanf(buf, "%31s", key) != 1) continue;
        if (!strcmp(key, "go")) break;
        if (!strcmp(key, "runs")) { if (sscanf(buf, "runs %d", &runs) != 1 || runs < 1) bad_input(line, "expected runs N, N >= 1"); }
        else if (!strcmp(key, "cpu")) { if (sscanf(buf, "cpu %d", &cpu) != 1) bad_input(line, "expected cpu C"); }
        else if (!strcmp(key, "tmpdir")) { if (sscanf(buf, "tmpdir %511s", tmpdir) != 1) bad_input(line, "expected tmpdir PATH"); }
        else if (!strcmp(key, "procs")) { if (sscanf(buf, "procs %d", &nprocs) != 1 || nprocs < 1 || nprocs > MAXP) bad_input(line, "expected procs N, 1 <= N <= 16"); }
        else if (!strcmp(key, "p0fork")) { if (sscanf(buf, "p0fork %d", &p0fork) != 1) bad_input(line, "expected p0fork 0|1"); }
        else if (!strcmp(key, "start")) { int p; if (sscanf(buf, "start %d", &p) != 1 || p < 0 || p >= nprocs) bad_input(line, "expected start P, P < procs"); starts[p] = 1; }
        else if (!strcmp(key, "var")) {
            int v; struct var x;
            if (sscanf(buf, "var %d %d %d %d", &v, &x.owner, &x.large, &x.init) != 4 || v != nvars || v >= MAXV || x.owner < 0 || x.owner >= nprocs)
                bad_input(line, "expected var V OWNER LARGE INIT, V numbered from 0, at most 16");
            vars[nvars++] = x;
        } else if (!strcmp(key, "step")) {
            struct step s;
            if (sscanf(buf, "step %d %d %d %d %d %d %d %d", &s.group, &s.proc, &s.op, &s.var, &s.arg, &s.obj, &s.reg, &s.sub) != 8 || nsteps >= MAXS)
                bad_input(line, "expected step GROUP PROC OP VAR ARG OBJ REG SUB, at most 128 steps");
            if (s.sub >= 0 && (s.var < 0 || s.sub >= (int)((s.var < nvars && vars[s.var].large ? HPS : PS) / PS)))
                bad_input(line, "SUB is not a page of the variable");
            if (s.proc < 0 || s.proc >= nprocs || s.op < OP_FORK || s.op > OP_PINWRITE || s.var >= nvars || s.obj >= MAXO || s.reg >= MAXR)
                bad_input(line, "step field out of range");
            if (s.op == OP_FORK && (s.arg < 0 || s.arg >= nprocs)) bad_input(line, "fork of a process out of range");
            steps[nsteps++] = s;
        } else bad_input(line, "unknown directive");
    }
    starts[0] = 1;
    controller = getpid();
    signal(SIGCHLD, SIG_IGN); /* every process reaps itself; pidfds tell us when */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) { printf("err -1 sched_setaffinity %d %s\n", errno, strerror(errno)); return 1; }
    }
    if (reopen_pagemap() < 0 || (kpc_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC)) < 0 ||
        (kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)) < 0) {
        printf("err -1 open(/proc/self/pagemap,/proc/kpagecount,/proc/kpageflags) %d %s\n", errno, strerror(errno));
        return 1;
    }
    gate = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (gate == MAP_FAILED) { printf("err -1 mmap(gate) %d %s\n", errno, strerror(errno)); return 1; }
    for (int p = 0; p < nprocs; p++)
        if (pipe2(cmdfd[p], O_CLOEXEC) < 0 || pipe2(repfd[p], O_CLOEXEC) < 0) { printf("err -1 pipe2 %d %s\n", errno, strerror(errno)); return 1; }
    int rc = 0;
    for (int i = 0; i < runs && rc == 0; i++) rc = one_run(i);
    printf(rc ? "" : "done\n");
    fflush(stdout);
    return rc ? 1 : 0;
}
