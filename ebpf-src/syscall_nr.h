/* x86_64 syscall numbers (uapi asm/unistd_64.h) of the calls Peregrine decodes. */
#ifndef PG_SYSCALL_NR_H
#define PG_SYSCALL_NR_H

#define PG_NR_read 0
#define PG_NR_write 1
#define PG_NR_open 2
#define PG_NR_close 3
#define PG_NR_socket 41
#define PG_NR_connect 42
#define PG_NR_accept 43
#define PG_NR_sendto 44
#define PG_NR_recvfrom 45
#define PG_NR_sendmsg 46
#define PG_NR_recvmsg 47
#define PG_NR_bind 49
#define PG_NR_listen 50
#define PG_NR_clone 56
#define PG_NR_fork 57
#define PG_NR_vfork 58
#define PG_NR_execve 59
#define PG_NR_chdir 80
#define PG_NR_fchdir 81
#define PG_NR_rename 82
#define PG_NR_mkdir 83
#define PG_NR_rmdir 84
#define PG_NR_creat 85
#define PG_NR_link 86
#define PG_NR_unlink 87
#define PG_NR_symlink 88
#define PG_NR_chmod 90
#define PG_NR_fchmod 91
#define PG_NR_ptrace 101
#define PG_NR_setuid 105
#define PG_NR_setgid 106
#define PG_NR_setresuid 117
#define PG_NR_setresgid 119
#define PG_NR_setsid 112
#define PG_NR_openat 257
#define PG_NR_mkdirat 258
#define PG_NR_unlinkat 263
#define PG_NR_renameat 264
#define PG_NR_linkat 265
#define PG_NR_symlinkat 266
#define PG_NR_fchmodat 268
#define PG_NR_accept4 288
#define PG_NR_dup 32
#define PG_NR_dup2 33
#define PG_NR_dup3 292
#define PG_NR_unshare 272
#define PG_NR_setns 308
#define PG_NR_renameat2 316
#define PG_NR_bpf 321
#define PG_NR_execveat 322
#define PG_NR_userfaultfd 323
#define PG_NR_init_module 175
#define PG_NR_finit_module 313
#define PG_NR_clone3 435
#define PG_NR_openat2 437
#define PG_NR_getpid 39

/* One past the highest syscall number: size of the interesting-syscalls map. */
#define PG_NR_SYSCALLS 512

#endif
