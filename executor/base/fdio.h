/* fdio.h — whole writes on file descriptors: the one loop over short
 * writes and EINTR that the state files, the log spool, the results
 * directory and the CLI use. */
#ifndef DMS_FDIO_H
#define DMS_FDIO_H

#include <stddef.h>
#include <sys/uio.h>

/* Writes all n bytes. 0, or -1 with errno set. */
int write_all(int fd, const void *p, size_t n);
/* Writes every byte of iov[0..iovcnt) (iov is modified). 0, or -1 with errno. */
int writev_all(int fd, struct iovec *iov, int iovcnt);

#endif
