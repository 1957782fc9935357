"""The C sources compiled into the test image by :mod:`secure_run.testing`.

Data, kept apart from the logic that builds the image: the setuid probe and the
attack tool. Both are compiled on the host with ``gcc -static -O2``; a change to
either one changes the image's recipe hash, so an old image is rebuilt.
"""

from __future__ import annotations

__all__ = ["ATTACK_TOOL_SOURCE", "SUID_PROBE_SOURCE"]

SUID_PROBE_SOURCE = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    char line[512];
    FILE *status;

    printf("ruid=%u euid=%u rgid=%u egid=%u\n", (unsigned)getuid(), (unsigned)geteuid(),
           (unsigned)getgid(), (unsigned)getegid());
    status = fopen("/proc/self/status", "r");
    if (status != NULL) {
        while (fgets(line, sizeof line, status) != NULL) {
            if (strncmp(line, "CapPrm:", 7) == 0 || strncmp(line, "CapEff:", 7) == 0) {
                fputs(line, stdout);
            }
        }
        fclose(status);
    }
    return 0;
}
"""
"""The C source of the setuid probe, compiled on the host with ``gcc -static -O2``."""

ATTACK_TOOL_SOURCE = r"""
/*
 * sr-attack NAME [ARG...]: make the one system call NAME is about and print one line,
 * "NAME: ok" or "NAME: errno=EPERM (Operation not permitted)"; exit 0 either way,
 * 2 for a usage error.
 *
 *   chown [PATH=/tmp]        chown(PATH, getuid(), getgid())
 *   mknod [PATH=/tmp/sr-mem] mknod(PATH, S_IFCHR, makedev(1, 1)), a /dev/mem
 *   mount [DIR=/tmp/sr-mnt]  mkdir DIR, then mount a tmpfs on it
 *   raw-socket               socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), closed unused
 *   sethostname              sethostname("sr-attack")
 *   ptrace [PID=1]           ptrace(PTRACE_ATTACH, PID), detached again at once
 *   init-module              init_module() of 64 bytes that are no module
 *   finit-module             finit_module() of this very program, which is no module
 *   settime                  clock_settime(CLOCK_REALTIME) to the time it reads
 *   kill PID [SIG=9]         kill(PID, SIG)
 *   fork-bomb                fork() in every process, for ever (never exits)
 *   unshare-user             unshare(CLONE_NEWUSER)
 *   connect PORT             a TCP connect to 127.0.0.1:PORT (never another address)
 *   read PATH                read PATH; prints "read: ok bytes=N" (N at most ~1 MiB)
 *   create PATH              open(PATH, O_CREAT | O_EXCL | O_WRONLY)
 *   write PATH [DATA]        open(PATH, O_WRONLY), then write DATA
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAME(e) case e: return #e
static const char *errno_name(int e)
{
    switch (e) {
    NAME(EPERM); NAME(ENOENT); NAME(ESRCH); NAME(EINTR); NAME(EIO); NAME(EBADF);
    NAME(EAGAIN); NAME(ENOMEM); NAME(EACCES); NAME(EFAULT); NAME(EBUSY); NAME(EEXIST);
    NAME(ENODEV); NAME(ENOTDIR); NAME(EISDIR); NAME(EINVAL); NAME(ENOSPC); NAME(EROFS);
    NAME(ENOSYS); NAME(ENOEXEC); NAME(EOPNOTSUPP); NAME(EAFNOSUPPORT);
    NAME(EPROTONOSUPPORT); NAME(EADDRNOTAVAIL); NAME(ENETUNREACH); NAME(ECONNREFUSED);
    NAME(EHOSTUNREACH); NAME(ETIMEDOUT);
    default: return "E?";
    }
}

static int report(const char *name, long rc)
{
    if (rc < 0) {
        int e = errno;
        printf("%s: errno=%s (%s)\n", name, errno_name(e), strerror(e));
    } else {
        printf("%s: ok\n", name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(name, "chown") == 0) {
        return report(name, chown(arg ? arg : "/tmp", getuid(), getgid()));
    }
    if (strcmp(name, "mknod") == 0) {
        return report(name, mknod(arg ? arg : "/tmp/sr-mem", S_IFCHR | 0600, makedev(1, 1)));
    }
    if (strcmp(name, "mount") == 0) {
        const char *dir = arg ? arg : "/tmp/sr-mnt";
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            return report("mkdir", -1);
        }
        return report(name, mount("sr-attack", dir, "tmpfs", 0, "size=1m"));
    }
    if (strcmp(name, "raw-socket") == 0) {
        int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);   /* created, never used */
        if (fd >= 0) {
            close(fd);
        }
        return report(name, fd);
    }
    if (strcmp(name, "sethostname") == 0) {
        return report(name, sethostname("sr-attack", 9));
    }
    if (strcmp(name, "ptrace") == 0) {
        pid_t pid = (pid_t)atoi(arg ? arg : "1");
        long rc = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
        int saved = errno;
        if (rc == 0) {
            waitpid(pid, NULL, __WALL);
            ptrace(PTRACE_DETACH, pid, NULL, NULL);
        }
        errno = saved;
        return report(name, rc);
    }
    if (strcmp(name, "init-module") == 0) {
        static char image[64] = "not an ELF module";  /* refused before it is parsed */
        return report(name, syscall(SYS_init_module, image, sizeof image, ""));
    }
    if (strcmp(name, "finit-module") == 0) {
        int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return report("open", -1);
        }
        return report(name, syscall(SYS_finit_module, fd, "", 0));
    }
    if (strcmp(name, "settime") == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);   /* set the clock to what it already says */
        return report(name, clock_settime(CLOCK_REALTIME, &now));
    }
    if (strcmp(name, "kill") == 0 && arg != NULL) {
        int sig = argc > 3 ? atoi(argv[3]) : SIGKILL;
        return report(name, kill((pid_t)atoi(arg), sig));
    }
    if (strcmp(name, "fork-bomb") == 0) {
        /* Every process forks for ever and a refused fork is retried after 10 ms, so
           the bomb holds every pid it gets until it is killed. Only the first process
           reports, once, the first refusal. */
        pid_t first = getpid();
        int told = 0;
        struct timespec pause = {0, 10 * 1000 * 1000};
        for (;;) {
            if (fork() < 0) {
                if (!told && getpid() == first) {
                    report(name, -1);
                    told = 1;
                }
                nanosleep(&pause, NULL);
            }
        }
    }
    if (strcmp(name, "unshare-user") == 0) {
        return report(name, unshare(CLONE_NEWUSER));
    }
    if (strcmp(name, "connect") == 0 && arg != NULL) {
        struct sockaddr_in addr;
        int fd;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons((unsigned short)atoi(arg));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   /* only ever 127.0.0.1 */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            return report("socket", -1);
        }
        return report(name, connect(fd, (struct sockaddr *)&addr, sizeof addr));
    }
    if (strcmp(name, "read") == 0 && arg != NULL) {
        char buf[4096];
        long total = 0;
        ssize_t n;
        int fd = open(arg, O_RDONLY);
        if (fd < 0) {
            return report(name, -1);
        }
        while ((n = read(fd, buf, sizeof buf)) > 0 && total < (1L << 20)) {
            total += n;
        }
        if (n < 0) {
            return report(name, -1);
        }
        printf("%s: ok bytes=%ld\n", name, total);
        return 0;
    }
    if (strcmp(name, "create") == 0 && arg != NULL) {
        int fd = open(arg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        }
        return report(name, fd);
    }
    if (strcmp(name, "write") == 0 && arg != NULL) {
        const char *data = argc > 3 ? argv[3] : "";
        int fd = open(arg, O_WRONLY);
        if (fd < 0) {
            return report(name, -1);
        }
        return report(name, write(fd, data, strlen(data)));
    }
    fprintf(stderr, "usage: sr-attack NAME [ARG...], NAME one of: chown mknod mount "
                    "raw-socket sethostname ptrace init-module finit-module settime kill "
                    "fork-bomb unshare-user connect read create write\n");
    return 2;
}
"""
"""The C source of the attack tool, compiled on the host with ``gcc -static -O2``."""
