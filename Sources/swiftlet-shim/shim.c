// swiftlet-shim: per-container monitor and init helper (in the spirit of conmon).
//
//   swiftlet-shim run  <config>   daemonise a monitor, start the process, print "ok <pid>"
//                                 (or "err <cause>" on stderr, exit 1) once it has exec'd.
//                                 The monitor owns stdout/stderr, writes the CRI log file,
//                                 reaps the process and writes its exit status, crash-safely,
//                                 to <state_dir>/state. It survives the agent being SIGKILLed.
//   swiftlet-shim exec <config>   join a running container and run a process in the
//                                 foreground with inherited stdio; exit with its status.
//                                 With "tty 1" the process gets a terminal of the container's
//                                 devpts and the shim relays fd 0/1 to it; with "control_fd 3"
//                                 4-byte messages (width, height: u16 little-endian) on fd 3
//                                 resize that terminal; with "await_size 1" the process starts
//                                 only once the first has come (2 s at most).
//
// Attach (run mode, "attach 1"): the monitor listens on <state_dir>/attach (SOCK_SEQPACKET). Every message
// starts with a type byte. Monitor to client: 1 stdout data, 2 stderr data (a terminal's output
// is stdout); the socket closes when the process has exited. Client to monitor: 0 stdin data,
// 5 "this client attaches stdin", 3 end of this client's stdin, 4 resize (u16 width, u16 height,
// little-endian). With "stdin_once 1" the container's stdin closes when the first client that
// attached stdin ends it or goes away.
//
// Everything between fork and exec (setns, unshare, mounts, pivot_root, caps, seccomp,
// uid/gid) happens here, in C, on the child side. The config is a text file written by the
// Runtime module: one "key value" per line, "\n" and "\\" escaped; list keys repeat.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#define MAXLIST 256

typedef struct {
    char *key;
    char *val;
} kv_t;

static kv_t cfg[4096];
static int ncfg;

static const char *get(const char *key) {
    for (int i = ncfg - 1; i >= 0; i--)
        if (strcmp(cfg[i].key, key) == 0) return cfg[i].val;
    return NULL;
}

static int getall(const char *key, const char **out, int max) {
    int n = 0;
    for (int i = 0; i < ncfg && n < max; i++)
        if (strcmp(cfg[i].key, key) == 0) out[n++] = cfg[i].val;
    return n;
}

static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = (*r == 'n') ? '\n' : (*r == 't') ? '\t' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

static int load_config(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0 && ncfg < 4096) {
        if (line[n - 1] == '\n') line[n - 1] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        cfg[ncfg].key = strdup(line);
        cfg[ncfg].val = strdup(sp + 1);
        unescape(cfg[ncfg].val);
        ncfg++;
    }
    free(line);
    fclose(f);
    return 0;
}

// ---------------------------------------------------------------- child-side errors

static int errfd = -1;

// Reports "<stage>: <strerror(errno)>" to the monitor and exits 127 (the exec never happened).
static void die(const char *fmt, ...) {
    int e = errno;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    if (e) n += snprintf(buf + n, sizeof buf - (size_t)n, ": %s", strerror(e));
    if (n >= (int)sizeof buf) n = sizeof buf - 1;
    if (errfd >= 0) {
        ssize_t w = write(errfd, buf, (size_t)n);
        (void)w;
    } else {
        fprintf(stderr, "swiftlet-shim: %.*s\n", n, buf);
    }
    _exit(127);
}

// Writes all of buf unless the fd fails (EINTR is retried).
static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        len -= (size_t)w;
    }
}

static int write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, data, strlen(data));
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : 0;
}

static void mkdir_p(const char *path, mode_t mode) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, mode);
            *p = '/';
        }
    }
    mkdir(tmp, mode);
}

// ---------------------------------------------------------------- namespaces

static int ns_flag(const char *name) {
    if (!strcmp(name, "pid")) return CLONE_NEWPID;
    if (!strcmp(name, "net")) return CLONE_NEWNET;
    if (!strcmp(name, "ipc")) return CLONE_NEWIPC;
    if (!strcmp(name, "uts")) return CLONE_NEWUTS;
    if (!strcmp(name, "mnt")) return CLONE_NEWNS;
    if (!strcmp(name, "cgroup")) return CLONE_NEWCGROUP;
    if (!strcmp(name, "user")) return CLONE_NEWUSER;
    return 0;
}

// "setns <kind>\t<path>" lines, in the order written (user, pid, uts, ipc, net, cgroup, mnt).
// The pid namespace is joined by the monitor (it applies to children), the rest by the child.
static void join_namespaces(int pid_only) {
    const char *list[16];
    int n = getall("setns", list, 16);
    for (int i = 0; i < n; i++) {
        char kind[16];
        const char *tab = strchr(list[i], '\t');
        if (!tab || tab - list[i] >= 15) die("bad setns line %s", list[i]);
        memcpy(kind, list[i], (size_t)(tab - list[i]));
        kind[tab - list[i]] = 0;
        int flag = ns_flag(kind);
        if ((flag == CLONE_NEWPID) != (pid_only != 0)) continue;
        int fd = open(tab + 1, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open namespace %s", tab + 1);
        if (setns(fd, flag) < 0) die("setns %s %s", kind, tab + 1);
        close(fd);
    }
}

static int unshare_flags(int pid_only) {
    const char *list[16];
    int n = getall("unshare", list, 16), flags = 0;
    for (int i = 0; i < n; i++) {
        int f = ns_flag(list[i]);
        if ((f == CLONE_NEWPID) == (pid_only != 0)) flags |= f;
    }
    return flags;
}

// ---------------------------------------------------------------- rootfs

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
    if (mount(src, dst, type, flags, data) < 0) die("mount %s on %s (%s)", src ? src : "none", dst, type ? type : "bind");
}

static void mknod_dev(const char *root, const char *name, unsigned maj, unsigned min) {
    char p[4096];
    snprintf(p, sizeof p, "%s/dev/%s", root, name);
    if (mknod(p, S_IFCHR | 0666, makedev(maj, min)) < 0 && errno != EEXIST) die("mknod %s", p);
    chmod(p, 0666);
}

static unsigned long propagation(const char *opts) {
    if (strstr(opts, "rshared")) return MS_SHARED | MS_REC;
    if (strstr(opts, "rslave")) return MS_SLAVE | MS_REC;
    return MS_PRIVATE | MS_REC;
}

// "mount <src>\t<dst>\t<opts>": bind mounts (hostPath, emptyDir, /etc/hosts, devices).
static void user_mounts(const char *root) {
    const char *list[MAXLIST];
    int n = getall("mount", list, MAXLIST);
    for (int i = 0; i < n; i++) {
        char line[8192];
        snprintf(line, sizeof line, "%s", list[i]);
        char *src = line, *dst = strchr(src, '\t');
        if (!dst) die("bad mount line %s", list[i]);
        *dst++ = 0;
        char *opts = strchr(dst, '\t');
        if (opts) *opts++ = 0;
        else opts = "";
        char target[4096];
        snprintf(target, sizeof target, "%s%s", root, dst);
        struct stat st;
        if (stat(src, &st) < 0) die("mount source %s", src);
        if (S_ISDIR(st.st_mode)) {
            mkdir_p(target, 0755);
        } else {
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", target);
            char *slash = strrchr(parent, '/');
            if (slash) *slash = 0;
            mkdir_p(parent, 0755);
            int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            if (fd >= 0) close(fd);
        }
        mnt(src, target, NULL, MS_BIND | MS_REC, NULL);
        if (strstr(opts, "ro"))
            mnt(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
        mnt(NULL, target, NULL, propagation(opts), NULL);
    }
}

static void setup_rootfs(const char *root) {
    char p[4096];
    mnt(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL);
    const char *lower = get("overlay_lower");
    if (lower) {
        char data[4096];
        const char *upper = get("overlay_upper"), *work = get("overlay_work");
        if (upper && work)
            snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        else
            snprintf(data, sizeof data, "lowerdir=%s", lower);
        mnt("overlay", root, "overlay", 0, data);
    } else {
        mnt(root, root, NULL, MS_BIND | MS_REC, NULL);
    }
    const char *dirs[] = {"proc", "sys", "dev", "etc", "tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof p, "%s/proc", root);
    mnt("proc", p, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    snprintf(p, sizeof p, "%s/sys", root);
    unsigned long sysflags = MS_NOSUID | MS_NOEXEC | MS_NODEV | (get("sys_rw") ? 0 : MS_RDONLY);
    if (mount("sysfs", p, "sysfs", sysflags, NULL) < 0) {
        // Joining the host's network namespace: sysfs belongs to it; bind it read-only.
        mnt("/sys", p, NULL, MS_BIND | MS_REC, NULL);
        if (!get("sys_rw")) mnt(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    }
    snprintf(p, sizeof p, "%s/dev", root);
    mnt("tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    mknod_dev(root, "null", 1, 3);
    mknod_dev(root, "zero", 1, 5);
    mknod_dev(root, "full", 1, 7);
    mknod_dev(root, "random", 1, 8);
    mknod_dev(root, "urandom", 1, 9);
    mknod_dev(root, "tty", 5, 0);
    const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                              {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                              {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", root, links[i][1]);
        if (symlink(links[i][0], p) < 0 && errno != EEXIST) die("symlink %s", p);
    }
    snprintf(p, sizeof p, "%s/dev/pts", root);
    mkdir(p, 0755);
    mnt("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    snprintf(p, sizeof p, "%s/dev/shm", root);
    mkdir(p, 01777);
    mnt("shm", p, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
    snprintf(p, sizeof p, "%s/dev/mqueue", root);
    mkdir(p, 0755);
    mnt("mqueue", p, "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    user_mounts(root);

    if (chdir(root) < 0) die("chdir %s", root);
    if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root %s", root);
    if (umount2(".", MNT_DETACH) < 0) die("umount old root");
    if (chdir("/") < 0) die("chdir /");

    const char *list[MAXLIST];
    int n = getall("masked", list, MAXLIST);
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(list[i], &st) < 0) continue;
        if (S_ISDIR(st.st_mode))
            mnt("tmpfs", list[i], "tmpfs", MS_RDONLY, NULL);
        else
            mnt("/dev/null", list[i], NULL, MS_BIND, NULL);
    }
    n = getall("readonly", list, MAXLIST);
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(list[i], &st) < 0) continue;
        mnt(list[i], list[i], NULL, MS_BIND | MS_REC, NULL);
        mnt(NULL, list[i], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    if (get("readonly_rootfs")) mnt(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

// ---------------------------------------------------------------- credentials, caps, seccomp

static struct sock_fprog seccomp_prog;

static void read_seccomp(void) {
    const char *path = get("seccomp");
    if (!path) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open seccomp filter %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0 || st.st_size % (off_t)sizeof(struct sock_filter)) {
        errno = EINVAL;
        die("seccomp filter %s", path);
    }
    struct sock_filter *f = malloc((size_t)st.st_size);
    if (!f || read(fd, f, (size_t)st.st_size) != st.st_size) die("read seccomp filter %s", path);
    close(fd);
    seccomp_prog.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
    seccomp_prog.filter = f;
}

static void load_seccomp(void) {
    if (!seccomp_prog.filter) return;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp_prog) < 0) die("load seccomp filter");
}

static void set_credentials(void) {
    const char *caps[64];
    int ncaps = getall("cap", caps, 64);
    unsigned long long mask = 0;
    for (int i = 0; i < ncaps; i++) mask |= 1ULL << atoi(caps[i]);
    int last = 40;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f) {
        if (fscanf(f, "%d", &last) != 1) last = 40;
        fclose(f);
    }
    for (int c = 0; c <= last; c++)
        if (!(mask & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) die("drop bounding capability %d", c);

    const char *nnp = get("no_new_privs");
    if (!nnp) load_seccomp(); // needs CAP_SYS_ADMIN without no_new_privs: before the drop

    uid_t uid = get("uid") ? (uid_t)strtoul(get("uid"), NULL, 10) : 0;
    gid_t gid = get("gid") ? (gid_t)strtoul(get("gid"), NULL, 10) : 0;
    const char *groups[64];
    int ngroups = getall("group", groups, 64);
    gid_t gids[64];
    for (int i = 0; i < ngroups; i++) gids[i] = (gid_t)strtoul(groups[i], NULL, 10);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("keepcaps");
    if (setgroups((size_t)ngroups, gids) < 0) die("setgroups");
    if (setresgid(gid, gid, gid) < 0) die("setresgid %u", gid);
    if (setresuid(uid, uid, uid) < 0) die("setresuid %u", uid);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die("keepcaps");

    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    // Never more than we hold: a privileged container gets all capabilities the agent has.
    if (syscall(SYS_capget, &hdr, data) < 0) die("capget");
    mask &= ((unsigned long long)data[1].permitted << 32) | data[0].permitted;
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = data[0].inheritable = (unsigned)(mask & 0xffffffffu);
    data[1].effective = data[1].permitted = data[1].inheritable = (unsigned)(mask >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0) die("capset");
    if (uid == 0) {
        // root keeps its set across exec; non-root users get them as ambient caps only if asked.
    } else if (get("ambient")) {
        for (int c = 0; c <= last; c++)
            if (mask & (1ULL << c)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
    }
    if (nnp) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
        load_seccomp();
    }
}

// ---------------------------------------------------------------- exec

static void exec_process(void) {
    const char *args[MAXLIST + 1], *envs[MAXLIST + 1];
    int nargs = getall("arg", args, MAXLIST), nenv = getall("env", envs, MAXLIST);
    args[nargs] = NULL;
    envs[nenv] = NULL;
    if (nargs == 0) {
        errno = EINVAL;
        die("no command given");
    }
    const char *cwd = get("cwd");
    if (cwd && chdir(cwd) < 0) die("chdir to working directory %s", cwd);
    if (strchr(args[0], '/')) {
        execve(args[0], (char *const *)args, (char *const *)envs);
        die("exec %s", args[0]);
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (int i = 0; i < nenv; i++)
        if (!strncmp(envs[i], "PATH=", 5)) path = envs[i] + 5;
    char buf[4096];
    int saved = ENOENT;
    const char *p = path;
    while (*p) {
        const char *colon = strchrnul(p, ':');
        snprintf(buf, sizeof buf, "%.*s/%s", (int)(colon - p), p, args[0]);
        execve(buf, (char *const *)args, (char *const *)envs);
        if (errno != ENOENT) saved = errno;
        p = *colon ? colon + 1 : colon;
    }
    errno = saved;
    die("exec %s: not found in PATH %s", args[0], path);
}

// ---------------------------------------------------------------- terminal

static int console_sock = -1; // child side of the socketpair the pty master travels over
static int console_wait = 0;  // exec: hold until the shim has sized the terminal

static int send_fd(int sock, int fd) {
    char data = 'm';
    struct iovec iov = {&data, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
    char data;
    struct iovec iov = {&data, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    if (recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

// A terminal from the container's own devpts (so `tty` names /dev/pts/N inside): the master
// goes to the shim, the peer becomes the controlling terminal and stdio of a new session.
static void setup_console(void) {
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) die("open /dev/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) die("unlock terminal");
    int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (peer < 0) die("open terminal peer");
    if (send_fd(console_sock, master) < 0) die("hand the terminal to the shim");
    close(master);
    if (console_wait) {
        // The shim applies the client's first size before we go on, so the process never
        // sees the 0x0 a new terminal starts with.
        char go;
        while (read(console_sock, &go, 1) < 0 && errno == EINTR) {
        }
    }
    close(console_sock);
    uid_t uid = get("uid") ? (uid_t)strtoul(get("uid"), NULL, 10) : 0;
    if (fchown(peer, uid, 5) < 0 && fchown(peer, uid, (gid_t)-1) < 0) die("chown terminal");
    if (setsid() < 0) die("setsid");
    if (ioctl(peer, TIOCSCTTY, 0) < 0) die("set controlling terminal");
    for (int i = 0; i < 3; i++)
        if (dup2(peer, i) < 0) die("dup terminal");
    if (peer > 2) close(peer);
}

static void set_winsize(int master, const unsigned char *p) {
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_col = (unsigned short)(p[0] | p[1] << 8);
    ws.ws_row = (unsigned short)(p[2] | p[3] << 8);
    ioctl(master, TIOCSWINSZ, &ws);
}

// The child side: cgroups, namespaces, rootfs, identity, then exec. Never returns.
static void child_main(void) {
    read_seccomp(); // host path: read before joining another mount namespace
    const char *list[32];
    int n = getall("cgroup", list, 32);
    for (int i = 0; i < n; i++)
        if (write_file(list[i], "0") < 0) die("join cgroup %s", list[i]);
    const char *adj = get("oom_score_adj");
    // Lowering below the agent's own value needs CAP_SYS_RESOURCE; without it keep the inherited value.
    if (adj && write_file("/proc/self/oom_score_adj", adj) < 0 && errno != EACCES) die("oom_score_adj %s", adj);
    join_namespaces(0);
    int flags = unshare_flags(0);
    if (flags && unshare(flags) < 0) die("unshare");
    if (get("loopback_up")) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strcpy(ifr.ifr_name, "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("get flags of lo");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("bring lo up");
        close(s);
    }
    const char *hostname = get("hostname");
    if (hostname && sethostname(hostname, strlen(hostname)) < 0) die("sethostname %s", hostname);
    const char *root = get("rootfs");
    if (root) setup_rootfs(root);
    if (get("tty")) setup_console();
    else if (get("setsid") && setsid() < 0) die("setsid");
    set_credentials();
    exec_process();
}

// Monitor-side: join or create the pid namespace (it applies to the next fork).
static int enter_pid_namespace(char *err, size_t errlen) {
    const char *list[16];
    int n = getall("setns", list, 16);
    for (int i = 0; i < n; i++) {
        if (strncmp(list[i], "pid\t", 4)) continue;
        int fd = open(list[i] + 4, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWPID) < 0) {
            snprintf(err, errlen, "join pid namespace %s: %s", list[i] + 4, strerror(errno));
            return -1;
        }
        close(fd);
    }
    if (unshare_flags(1) && unshare(CLONE_NEWPID) < 0) {
        snprintf(err, errlen, "unshare pid namespace: %s", strerror(errno));
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- state file

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static char state_buf[8192];

// write-temp-rename, so a reader never sees half a state; `durable` adds the fsyncs of the
// file and the directory. The start (pid, started_at) is not made durable: it is on the path
// of every container start, an agent restart reads it from the page cache, and a machine crash
// ends the process it names (a start lost with it reads as a container that never ran). The
// exit status is.
static void write_state(const char *dir, int durable) {
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/state.tmp", dir);
    snprintf(dst, sizeof dst, "%s/state", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    write_all(fd, state_buf, strlen(state_buf));
    if (durable) fsync(fd);
    close(fd);
    rename(tmp, dst);
    if (!durable) return;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

static void state_add(const char *fmt, ...) {
    size_t len = strlen(state_buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(state_buf + len, sizeof state_buf - len, fmt, ap);
    va_end(ap);
}

static long oom_kills(void) {
    const char *path = get("oom_file");
    if (!path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char key[64];
    long val, res = 0;
    while (fscanf(f, "%63s %ld", key, &val) == 2)
        if (!strcmp(key, "oom_kill")) res = val;
    fclose(f);
    return res;
}

// ---------------------------------------------------------------- CRI log

typedef struct {
    int fd;
    const char *name;
    int type; // attach message type: 1 stdout, 2 stderr
    char buf[16384];
    size_t len;
} stream_t;

static void broadcast(int type, const char *data, size_t len);

static int logfd = -1;
static const char *log_path;

static void open_log(void) {
    if (!log_path) return;
    if (logfd >= 0) close(logfd);
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

// <RFC3339Nano> <stream> <P|F> <content>
static void log_line(const char *stream, const char *data, size_t len, int partial) {
    if (logfd < 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char head[128], frac[16];
    snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
    size_t fl = strlen(frac);
    while (fl > 1 && frac[fl - 1] == '0') frac[--fl] = 0;
    if (fl == 1) frac[0] = 0;
    int hl = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d%sZ %s %c ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, stream,
                      partial ? 'P' : 'F');
    char out[sizeof head + 16384 + 1];
    memcpy(out, head, (size_t)hl);
    memcpy(out + hl, data, len);
    out[(size_t)hl + len] = '\n';
    write_all(logfd, out, (size_t)hl + len + 1);
}

// Reads what is available; returns 0 at EOF.
static int pump(stream_t *s) {
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
        if (s->len) log_line(s->name, s->buf, s->len, 0);
        s->len = 0;
        return 0;
    }
    broadcast(s->type, s->buf + s->len, (size_t)n);
    s->len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            log_line(s->name, s->buf + start, i - start, 0);
            start = i + 1;
        }
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == sizeof s->buf) {
        log_line(s->name, s->buf, s->len, 1);
        s->len = 0;
    }
    return 1;
}

// ---------------------------------------------------------------- attach and stdin

// Bytes on their way to a non-blocking fd (the container's stdin, an exec's terminal): input
// is read from its sources only while there is room, so a process that stops reading its
// stdin holds back its writers instead of stalling the output side.
typedef struct {
    int fd;
    int closing; // close fd once drained
    char buf[65536];
    size_t len;
} outq_t;

static int outq_room(const outq_t *q) { return q->fd >= 0 && !q->closing && q->len <= sizeof q->buf - 32769; }

static void outq_push(outq_t *q, const void *data, size_t len) {
    if (q->fd < 0 || q->closing || len > sizeof q->buf - q->len) return;
    memcpy(q->buf + q->len, data, len);
    q->len += len;
}

static void outq_close(outq_t *q, int keep_fd) {
    q->closing = 1;
    if (q->len == 0 && q->fd >= 0) {
        if (!keep_fd) close(q->fd);
        q->fd = -1;
    }
}

// Writes what the fd takes now; returns -1 when the reader is gone.
static int outq_flush(outq_t *q, int keep_fd) {
    while (q->len) {
        ssize_t w = write(q->fd, q->buf, q->len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return 0;
        if (w <= 0) {
            q->len = 0;
            outq_close(q, keep_fd);
            return -1;
        }
        memmove(q->buf, q->buf + w, q->len - (size_t)w);
        q->len -= (size_t)w;
    }
    if (q->closing) outq_close(q, keep_fd);
    return 0;
}

#define MAXCLIENTS 16

typedef struct {
    int fd;
    int has_stdin;
} client_t;

static client_t clients[MAXCLIENTS];
static int listen_fd = -1, term_fd = -1, stdin_once;
static outq_t stdin_q = {.fd = -1};

static void broadcast(int type, const char *data, size_t len) {
    char msg[1 + 16384];
    while (len) {
        size_t n = len > 16384 ? 16384 : len;
        msg[0] = (char)type;
        memcpy(msg + 1, data, n);
        for (int i = 0; i < MAXCLIENTS; i++) {
            if (clients[i].fd < 0) continue;
            // A client that falls 512 messages behind is cut off rather than stalling the
            // container's output and its log.
            if (send(clients[i].fd, msg, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                close(clients[i].fd);
                clients[i].fd = -1;
            }
        }
        data += n;
        len -= n;
    }
}

static void end_client_stdin(int i) {
    if (!clients[i].has_stdin) return;
    clients[i].has_stdin = 0;
    if (stdin_once) outq_close(&stdin_q, stdin_q.fd == term_fd);
}

static void drop_client(int i) {
    end_client_stdin(i);
    close(clients[i].fd);
    clients[i].fd = -1;
}

static void client_input(int i) {
    unsigned char msg[32769];
    ssize_t n = recv(clients[i].fd, msg, sizeof msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        drop_client(i);
        return;
    }
    switch (msg[0]) {
    case 0:
        if (clients[i].has_stdin) outq_push(&stdin_q, msg + 1, (size_t)n - 1);
        break;
    case 3:
        end_client_stdin(i);
        break;
    case 4:
        if (term_fd >= 0 && n >= 5) set_winsize(term_fd, msg + 1);
        break;
    case 5:
        clients[i].has_stdin = 1;
        break;
    }
}

static void accept_client(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    for (int i = 0; i < MAXCLIENTS; i++) {
        if (clients[i].fd < 0) {
            clients[i].fd = fd;
            clients[i].has_stdin = 0;
            return;
        }
    }
    close(fd);
}

// <state_dir>/attach, bound by a relative name: state paths can exceed sun_path's 108 bytes.
static int listen_attach(const char *state_dir, char *err, size_t errlen) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, "attach");
    listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd < 0 || chdir(state_dir) < 0) goto fail;
    unlink("attach");
    if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod("attach", 0600) < 0 ||
        listen(listen_fd, MAXCLIENTS) < 0)
        goto fail;
    return chdir("/");
fail:
    snprintf(err, errlen, "attach socket in %s: %s", state_dir, strerror(errno));
    return -1;
}

static void unlink_attach(const char *state_dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/attach", state_dir);
    unlink(p);
    if (listen_fd >= 0) close(listen_fd);
    listen_fd = -1;
}

// ---------------------------------------------------------------- modes

static int run_mode(void) {
    const char *state_dir = get("state_dir");
    if (!state_dir) {
        fprintf(stderr, "err config has no state_dir\n");
        return 1;
    }
    log_path = get("log_path");
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) return 1;
    pid_t monitor = fork();
    if (monitor < 0) {
        fprintf(stderr, "err fork monitor: %s\n", strerror(errno));
        return 1;
    }
    if (monitor > 0) {
        close(ready[1]);
        char msg[2048];
        ssize_t n = 0, r;
        while (n < (ssize_t)sizeof msg - 1 && (r = read(ready[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0) n += r;
        msg[n < 0 ? 0 : n] = 0;
        waitpid(monitor, NULL, 0); // the monitor forks once more to leave our process tree
        if (!strncmp(msg, "ok ", 3)) {
            printf("%s\n", msg);
            return 0;
        }
        fprintf(stderr, "%s\n", n > 0 ? msg : "err monitor died before reporting");
        return 1;
    }
    // Monitor: detach from the agent (new session, reparented to init/subreaper).
    close(ready[0]);
    if (setsid() < 0) _exit(1);
    pid_t again = fork();
    if (again < 0) _exit(1);
    if (again > 0) _exit(0);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    signal(SIGPIPE, SIG_IGN);
    open_log();

    char err[1536] = "";
    for (int i = 0; i < MAXCLIENTS; i++) clients[i].fd = -1;
    int tty = get("tty") != NULL, want_stdin = get("stdin") != NULL;
    stdin_once = get("stdin_once") != NULL;
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, in[2] = {-1, -1}, cs[2] = {-1, -1}, sync[2];
    if ((!tty && (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)) ||
        (!tty && want_stdin && pipe2(in, O_CLOEXEC) < 0) ||
        (tty && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs) < 0) || pipe2(sync, O_CLOEXEC) < 0) {
        dprintf(ready[1], "err pipe: %s", strerror(errno));
        _exit(1);
    }
    if ((get("attach") && listen_attach(state_dir, err, sizeof err) < 0) || enter_pid_namespace(err, sizeof err) < 0) {
        dprintf(ready[1], "err %s", err);
        _exit(1);
    }
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, &old);
    long oom_before = oom_kills();
    long long started = now_ns();
    pid_t child = fork();
    if (child < 0) {
        dprintf(ready[1], "err fork: %s", strerror(errno));
        _exit(1);
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        signal(SIGPIPE, SIG_DFL);
        close(sync[0]);
        errfd = sync[1];
        console_sock = cs[1];
        // With a terminal, setup_console replaces these once inside the container.
        dup2(in[0] >= 0 ? in[0] : devnull, 0);
        dup2(tty ? devnull : out[1], 1);
        dup2(tty ? devnull : log_path ? errp[1] : out[1], 2);
        child_main();
    }
    close(sync[1]);
    if (!tty) {
        close(out[1]);
        close(errp[1]);
    }
    if (in[0] >= 0) close(in[0]);
    if (cs[1] >= 0) close(cs[1]);
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof err - 1 && (r = read(sync[0], err + n, sizeof err - 1 - (size_t)n)) > 0) n += r;
    err[n < 0 ? 0 : n] = 0;
    close(sync[0]);
    if (n == 0 && tty && (term_fd = recv_fd(cs[0])) < 0) {
        n = snprintf(err, sizeof err, "no terminal from the container: %s", strerror(errno));
        kill(child, SIGKILL);
    }
    snprintf(state_buf, sizeof state_buf, "shim_pid %d\npid %d\nstarted_at %lld\n", getpid(), child, started);
    if (n > 0) {
        int status;
        waitpid(child, &status, 0);
        state_add("finished_at %lld\nexit_code 128\nreason ContainerCannotRun\nmessage %s\n", now_ns(), err);
        unlink_attach(state_dir);
        write_state(state_dir, 1);
        dprintf(ready[1], "err %s", err);
        _exit(0);
    }
    if (cs[0] >= 0) close(cs[0]);
    write_state(state_dir, 0);
    dprintf(ready[1], "ok %d", child);
    close(ready[1]);

    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    stream_t streams[2] = {{tty ? term_fd : out[0], "stdout", 1, {0}, 0}, {tty ? -1 : errp[0], "stderr", 2, {0}, 0}};
    if (tty) fcntl(term_fd, F_SETFL, O_NONBLOCK);
    if (want_stdin) {
        stdin_q.fd = tty ? term_fd : in[1];
        fcntl(stdin_q.fd, F_SETFL, O_NONBLOCK);
    }
    int open_streams = tty ? 1 : 2, exited = 0, status = 0;
    long long exit_deadline = 0;
    for (;;) {
        // 0 signals, 1-2 output, 3 listener, 4 stdin, 5.. clients
        struct pollfd pfd[5 + MAXCLIENTS];
        pfd[0] = (struct pollfd){sfd, POLLIN, 0};
        pfd[1] = (struct pollfd){streams[0].fd, POLLIN, 0};
        pfd[2] = (struct pollfd){streams[1].fd, POLLIN, 0};
        pfd[3] = (struct pollfd){exited ? -1 : listen_fd, POLLIN, 0};
        pfd[4] = (struct pollfd){stdin_q.len ? stdin_q.fd : -1, POLLOUT, 0};
        int readable = stdin_q.fd < 0 || outq_room(&stdin_q);
        for (int i = 0; i < MAXCLIENTS; i++)
            pfd[5 + i] = (struct pollfd){readable ? clients[i].fd : -1, POLLIN, 0};
        int rc = poll(pfd, 5 + MAXCLIENTS, exited ? 100 : -1);
        if (rc < 0 && errno != EINTR) break;
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1) open_log();
        }
        for (int i = 0; i < 2; i++) {
            if (streams[i].fd >= 0 && (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
                if (!pump(&streams[i])) {
                    close(streams[i].fd);
                    if (streams[i].fd == term_fd) {
                        term_fd = -1;
                        if (stdin_q.fd >= 0 && tty) stdin_q.fd = -1;
                    }
                    streams[i].fd = -1;
                    open_streams--;
                }
            }
        }
        if (pfd[3].revents & POLLIN) accept_client();
        if (pfd[4].revents & (POLLOUT | POLLERR | POLLHUP)) outq_flush(&stdin_q, tty);
        for (int i = 0; i < MAXCLIENTS; i++)
            if (clients[i].fd >= 0 && pfd[5 + i].fd >= 0 && (pfd[5 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                client_input(i);
        if (stdin_q.len) outq_flush(&stdin_q, tty);
        if (!exited) {
            pid_t w;
            while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
                if (w == child) {
                    exited = 1;
                    exit_deadline = now_ns() + 2000000000LL;
                    break;
                }
            }
        }
        // Descendants may hold the pipes open after the process exits: drain at most 2s.
        if (exited && (open_streams == 0 || now_ns() > exit_deadline)) break;
    }
    for (int i = 0; i < 2; i++)
        if (streams[i].len) log_line(streams[i].name, streams[i].buf, streams[i].len, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int oom = oom_kills() > oom_before;
    state_add("finished_at %lld\nexit_code %d\nsignal %d\noom_killed %d\n", now_ns(), code, sig, oom);
    // Nothing of ours changes in state_dir once the final state is there (the runtime may be
    // removing the directory); attached clients see EOF once the exit status is on disk.
    unlink_attach(state_dir);
    write_state(state_dir, 1);
    for (int i = 0; i < MAXCLIENTS; i++)
        if (clients[i].fd >= 0) close(clients[i].fd);
    _exit(0);
}

static pid_t exec_child = -1;

static void forward(int sig) {
    if (exec_child > 0) kill(exec_child, sig == SIGTERM ? SIGKILL : sig);
}

// The sizes already queued, the last one set before the process runs: with "await_size" the
// client sends its terminal's size as soon as the session exists (crictl right after the exec
// starts, kubectl first thing on its resize stream), so wait up to 2 s for the first.
static void initial_winsize(int master, int control) {
    if (control < 0) return;
    struct pollfd p = {control, POLLIN, 0};
    int timeout = get("await_size") ? 2000 : 0;
    unsigned char ws[4], last[4];
    int have = 0;
    for (;;) {
        int rc = poll(&p, 1, timeout);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0 || !(p.revents & POLLIN) || read(control, ws, 4) != 4) break;
        memcpy(last, ws, 4);
        have = 1;
        timeout = 0;
    }
    if (have) set_winsize(master, last);
}

// Relays the agent's fd 0 to the exec's terminal and the terminal to fd 1, resizes it on
// control messages, until the process has exited and its output is drained (at most 2s after).
static int relay_terminal(int master, int control) {
    static outq_t in_q = {.fd = -1};
    in_q.fd = master;
    fcntl(master, F_SETFL, O_NONBLOCK);
    int in_open = 1, exited = 0, status = 0;
    long long deadline = 0;
    char buf[16384];
    for (;;) {
        struct pollfd pfd[4] = {{in_open && outq_room(&in_q) ? 0 : -1, POLLIN, 0},
                                {master, POLLIN, 0},
                                {control, POLLIN, 0},
                                {in_q.len ? master : -1, POLLOUT, 0}};
        int rc = poll(pfd, 4, 100);
        if (rc < 0 && errno != EINTR) break;
        if (pfd[0].fd >= 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n > 0) outq_push(&in_q, buf, (size_t)n);
            else if (n == 0 || errno != EINTR) in_open = 0;
        }
        if (pfd[2].fd >= 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            unsigned char ws[4];
            if (read(control, ws, 4) == 4) set_winsize(master, ws);
            else control = -1;
        }
        if (in_q.len) outq_flush(&in_q, 1);
        int done = 0;
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                write_all(1, buf, (size_t)n);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                done = 1; // EIO: every holder of the terminal's peer has gone
            }
        }
        if (!exited) {
            pid_t w = waitpid(exec_child, &status, WNOHANG);
            if (w == exec_child) {
                exited = 1;
                deadline = now_ns() + 2000000000LL;
            }
        }
        if (done || (exited && now_ns() > deadline)) break;
    }
    if (!exited) {
        while (waitpid(exec_child, &status, 0) < 0 && errno == EINTR) {
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int exec_mode(void) {
    char err[1024] = "";
    if (enter_pid_namespace(err, sizeof err) < 0) {
        fprintf(stderr, "swiftlet-shim: %s\n", err);
        return 126;
    }
    int tty = get("tty") != NULL, control = get("control_fd") ? atoi(get("control_fd")) : -1;
    int sync[2], cs[2] = {-1, -1};
    console_wait = tty;
    if (pipe2(sync, O_CLOEXEC) < 0) return 126;
    if (tty && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs) < 0) return 126;
    exec_child = fork();
    if (exec_child < 0) return 126;
    if (exec_child == 0) {
        close(sync[0]);
        errfd = sync[1];
        console_sock = cs[1];
        if (control >= 0) close(control);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        child_main();
    }
    close(sync[1]);
    if (cs[1] >= 0) close(cs[1]);
    struct sigaction sa = {.sa_handler = forward};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    // With a terminal the child hands us its master, then waits until we have sized it.
    int master = -1;
    if (tty) {
        struct pollfd p = {cs[0], POLLIN, 0};
        while (poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        master = recv_fd(cs[0]);
        if (master >= 0) {
            initial_winsize(master, control);
            ssize_t w = write(cs[0], "g", 1); // fails only when the child has gone: its cause is on sync
            (void)w;
        }
        close(cs[0]);
    }
    ssize_t n;
    while ((n = read(sync[0], err, sizeof err - 1)) < 0 && errno == EINTR) {
    }
    int status = 0;
    if (n > 0) {
        while (waitpid(exec_child, &status, 0) < 0 && errno == EINTR) {
        }
        err[n] = 0;
        fprintf(stderr, "swiftlet-shim: %s\n", err);
        if (master >= 0) close(master);
        return 126;
    }
    if (tty) {
        if (master < 0) {
            kill(exec_child, SIGKILL);
            fprintf(stderr, "swiftlet-shim: no terminal from the container: %s\n", strerror(errno));
            return 126;
        }
        return relay_terminal(master, control);
    }
    while (waitpid(exec_child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "run") && strcmp(argv[1], "exec"))) {
        fprintf(stderr, "usage: swiftlet-shim run|exec <config>\n");
        return 2;
    }
    if (load_config(argv[2]) < 0) {
        fprintf(stderr, "err read config %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    // Nothing of the agent's leaks into the monitor or the container: fds (but an exec's
    // control fd), signal mask, handlers.
    unsigned keep = get("control_fd") && !strcmp(argv[1], "exec") ? (unsigned)atoi(get("control_fd")) + 1 : 3U;
    syscall(SYS_close_range, keep, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    return strcmp(argv[1], "run") == 0 ? run_mode() : exec_mode();
}
