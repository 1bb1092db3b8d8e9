/*
 * Byte buffers and whole reads and writes for kubeplug's small C programs
 * (cni-exec-shim.c, netns-exec-server.c), whose wire formats frame
 * everything with big-endian u32 lengths. Header-only: each program is one
 * translation unit built by scripts/postbuild.mjs.
 */
#ifndef KUBEPLUG_WIRE_IO_H
#define KUBEPLUG_WIRE_IO_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buffer {
  char *data;
  size_t length;
  size_t capacity;
};

/* Room for `more` bytes past the end; -1 when memory runs out. */
static inline int buffer_reserve(struct buffer *buffer, size_t more) {
  if (buffer->length + more <= buffer->capacity) return 0;
  size_t capacity = buffer->capacity == 0 ? 4096 : buffer->capacity;
  while (capacity < buffer->length + more) capacity *= 2;
  char *grown = realloc(buffer->data, capacity);
  if (grown == NULL) return -1;
  buffer->data = grown;
  buffer->capacity = capacity;
  return 0;
}

static inline int buffer_append(struct buffer *buffer, const void *bytes, size_t length) {
  if (buffer_reserve(buffer, length) != 0) return -1;
  if (length > 0) memcpy(buffer->data + buffer->length, bytes, length);
  buffer->length += length;
  return 0;
}

static inline int buffer_append_u32(struct buffer *buffer, uint32_t value) {
  unsigned char bytes[4] = {(unsigned char)(value >> 24), (unsigned char)(value >> 16), (unsigned char)(value >> 8), (unsigned char)value};
  return buffer_append(buffer, bytes, 4);
}

/* Writes all of it, retrying after signals; -1 on error. */
static inline int write_all(int fd, const char *bytes, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, bytes, length);
    if (written < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    bytes += written;
    length -= (size_t)written;
  }
  return 0;
}

/* Reads exactly length bytes; -1 when the peer closes early or on error. */
static inline int read_exactly(int fd, char *bytes, size_t length) {
  while (length > 0) {
    ssize_t got = read(fd, bytes, length);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    bytes += got;
    length -= (size_t)got;
  }
  return 0;
}

#endif
