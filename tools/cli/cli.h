/*
 * kinfer(1): the command line client.  Private declarations shared by the
 * files of tools/cli/.  The program uses only the public API of libkinfer.
 */
#ifndef KINFER_CLI_H
#define KINFER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kinfer/kinfer.h>

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* Exit statuses; documented in --help and kinfer(1). */
enum {
  CLI_EXIT_OK = 0,       /* success; a health check answered true        */
  CLI_EXIT_FALSE = 1,    /* a health check answered false                */
  CLI_EXIT_USAGE = 2,    /* bad command line                             */
  CLI_EXIT_HTTP = 3,     /* the server answered with an HTTP error       */
  CLI_EXIT_NETWORK = 4,  /* connect, TLS, timeout, refused, lost         */
  CLI_EXIT_RESPONSE = 5, /* malformed or too large response              */
  CLI_EXIT_INPUT = 6,    /* request, URL or protocol rejected            */
  CLI_EXIT_OTHER = 7     /* out of memory, cancelled, anything else      */
};

/* Largest number of dimensions accepted in an -i shape. */
#define CLI_MAX_DIMS 32

/* One typed input given with -i NAME:DTYPE:SHAPE:VALUES. */
struct cli_tensor {
  char *name;
  kinfer_datatype dtype;
  int64_t shape[CLI_MAX_DIMS];
  size_t ndim;
  size_t count;      /* number of elements                               */
  unsigned char *data; /* fixed-size types: little-endian elements       */
  size_t nbytes;
  char **elems;      /* BYTES: |count| strings of lens[i] bytes          */
  size_t *lens;
};

/* One header given with -H 'Name: value'. */
struct cli_header {
  char *name;
  char *value;
};

enum cli_command {
  CLI_CMD_LIVE,
  CLI_CMD_READY,
  CLI_CMD_MODEL_READY,
  CLI_CMD_INFER,
  CLI_CMD_EXPLAIN
};

/* Everything the command line says, checked and converted. */
struct cli_options {
  enum cli_command command;
  const char *url;
  const char *model;         /* NULL when not given                     */

  const char *protocol;      /* "v1" or "v2" (as typed), NULL: default   */
  bool http2;
  bool timeout_set;
  double timeout;            /* seconds; 0 means no deadline             */
  int retries;               /* -1: library default                      */

  struct cli_header *headers; /* -H, in order                            */
  size_t n_headers;
  const char *bearer;
  char *basic_user;
  char *basic_password;

  char *body;                /* -d, already read from its file           */
  size_t body_len;
  struct cli_tensor *inputs; /* -i                                       */
  size_t n_inputs;
  const char **outputs;      /* --output                                 */
  size_t n_outputs;
  bool binary;
  const char *id;
  bool graph;

  bool pretty;
  bool show_headers;
  bool verbose;

  const char *cacert;
  const char *capath;
  const char *cert;
  const char *key;
  const char *key_password;
  bool insecure;
  const char *unix_socket;
};

/* args.c: parses argv into |o|.  Returns -1 when the program should go on,
 * or the exit status to end with (0 after --help or --version, 2 after a
 * usage error, already reported on stderr). */
int cli_parse_args(int argc, char **argv, struct cli_options *o);
void cli_options_free(struct cli_options *o);
/* Reports a usage error on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* tensor_arg.c: parses the argument of -i.  Returns 0, or -1 with a
 * message in |msg|. */
int cli_tensor_parse(const char *arg, struct cli_tensor *t, char *msg,
                     size_t msg_size);
void cli_tensor_free(struct cli_tensor *t);

/* commands.c: runs the command; returns the exit status. */
int cli_run(const struct cli_options *o);

/* jsonfmt.c: a growable string. */
struct cli_buf {
  char *data;
  size_t len;
  size_t cap;
  bool failed; /* an allocation failed; data holds what fitted   */
};
void cli_buf_append(struct cli_buf *b, const char *s, size_t n);
void cli_buf_puts(struct cli_buf *b, const char *s);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) CLI_PRINTF(2, 3);
void cli_buf_free(struct cli_buf *b);

/* Appends |s| (|n| bytes) as a JSON string literal, quotes included. */
void cli_json_string(struct cli_buf *b, const char *s, size_t n);
/* Writes the JSON text |json| to |f|, re-indented by two spaces per level
 * with arrays of scalars kept on one line.  Tolerates invalid text. */
void cli_json_pretty(FILE *f, const char *json, size_t len);
/* Renders the decoded outputs of |r| as a V2-style JSON response with the
 * tensors' data as numbers (or strings for BYTES). */
void cli_json_render_response(struct cli_buf *b, const kinfer_response *r);

#endif /* KINFER_CLI_H */
