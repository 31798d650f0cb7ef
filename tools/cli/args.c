/*
 * kinfer(1): command line parsing.  Everything the user typed is checked
 * and converted here, so that commands.c only makes library calls.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage_text[] =
    "Usage: kinfer [OPTIONS] COMMAND URL [MODEL]\n"
    "\n"
    "A client for KServe V1 and V2 (Open Inference Protocol) REST servers.\n"
    "\n"
    "Commands:\n"
    "  live           is the server live?  Prints true or false\n"
    "  ready          is the server ready?  (v2 only)  Prints true or false\n"
    "  model-ready    is MODEL ready?  Prints true or false\n"
    "  infer          run an inference on MODEL and print the response\n"
    "  explain        ask MODEL for an explanation (v1 only)\n"
    "\n"
    "URL is the server's base URL, http://HOST[:PORT][/PATH] or https://...\n"
    "\n"
    "Protocol and connection:\n"
    "      --protocol v1|v2        KServe protocol version (default v1)\n"
    "      --http2                 use HTTP/2 (h2c over http://, ALPN over\n"
    "                              https://); default HTTP/1.1\n"
    "      --timeout S             deadline of the whole call in seconds,\n"
    "                              retries included (default 60; 0: none)\n"
    "      --retries N             extra attempts when the request was\n"
    "                              certainly not run (0-100, default 3)\n"
    "      --unix-socket PATH      connect through this Unix domain socket\n"
    "\n"
    "Request:\n"
    "  -d, --data JSON             the request body as JSON, sent as given;\n"
    "                              @FILE reads it from FILE, @- from stdin\n"
    "  -i, --input NAME:DTYPE:SHAPE:VALUES\n"
    "                              a typed input tensor (repeatable), e.g.\n"
    "                              x:INT32:2x2:1,2,3,4  (see below)\n"
    "      --binary                send the -i inputs and receive the outputs\n"
    "                              with the binary tensor extension (v2)\n"
    "      --output NAME           return this output (repeatable, v2)\n"
    "      --id ID                 the request id (v2)\n"
    "      --graph                 URL is an inference graph endpoint;\n"
    "                              MODEL may be left out\n"
    "  -H, --header 'NAME: VALUE'  send this header (repeatable)\n"
    "      --bearer TOKEN          authenticate with a bearer token\n"
    "      --basic USER:PASS       authenticate with HTTP basic auth\n"
    "\n"
    "TLS:\n"
    "      --cacert FILE           trust the CA certificates in this PEM file\n"
    "      --capath DIR            trust this hashed CA certificate directory\n"
    "      --cert FILE             client certificate (PEM) for mutual TLS\n"
    "      --key FILE              the client certificate's private key (PEM)\n"
    "      --key-password PW       the private key's password\n"
    "  -k, --insecure              do not verify the server's certificate\n"
    "\n"
    "Output:\n"
    "      --pretty                indent the JSON response\n"
    "      --show-headers          print the response's status and headers\n"
    "                              to stderr (infer)\n"
    "  -v, --verbose               log every attempt (method, URL, status,\n"
    "                              protocol, duration) to stderr\n"
    "  -V, --version               print the version and exit\n"
    "  -h, --help                  print this help and exit\n"
    "\n"
    "Typed inputs (-i NAME:DTYPE:SHAPE:VALUES):\n"
    "  DTYPE   BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BF16, BYTES\n"
    "          (FP16 and BF16 need --binary)\n"
    "  SHAPE   dimensions joined by 'x', e.g. 2x3; empty for a 1-D tensor of\n"
    "          as many elements as VALUES has\n"
    "  VALUES  comma-separated, row-major: numbers, true/false for BOOL,\n"
    "          strings for BYTES ('\\,' is a comma, '\\\\' a backslash)\n"
    "  e.g.    -i INPUT0:FP32:1x4:1,2.5,-3,4e2   -i text:BYTES:2:hello,world\n"
    "\n"
    "Exit status:\n"
    "  0  success; the health check answered true\n"
    "  1  the health check answered false (not live, not ready)\n"
    "  2  usage error\n"
    "  3  the server answered with an HTTP error status\n"
    "  4  connection, TLS, timeout, refused stream or lost connection\n"
    "  5  malformed response, or a response over a limit\n"
    "  6  invalid input: request body, URL, or a call the protocol lacks\n"
    "  7  other errors (out of memory, cancelled)\n"
    "\n"
    "Examples:\n"
    "  kinfer --protocol v2 ready http://localhost:8080\n"
    "  kinfer --protocol v2 infer http://localhost:8080 add_sub \\\n"
    "         -i INPUT0:FP32:4:1,2,3,4 -i INPUT1:FP32:4:1,1,1,1 --pretty\n"
    "  kinfer infer http://localhost:8080 sklearn-iris -d @iris.json\n";

/* getopt values of the long options. */
enum {
  OPT_PROTOCOL = 256,
  OPT_HTTP2,
  OPT_TIMEOUT,
  OPT_RETRIES,
  OPT_UNIX_SOCKET,
  OPT_BINARY,
  OPT_OUTPUT,
  OPT_ID,
  OPT_GRAPH,
  OPT_BEARER,
  OPT_BASIC,
  OPT_CACERT,
  OPT_CAPATH,
  OPT_CERT,
  OPT_KEY,
  OPT_KEY_PASSWORD,
  OPT_PRETTY,
  OPT_SHOW_HEADERS,
  /* long forms of the short options: distinct values let an error name
   * the option as the user typed it */
  OPT_DATA,
  OPT_INPUT,
  OPT_HEADER,
  OPT_INSECURE,
  OPT_VERBOSE,
  OPT_VERSION,
  OPT_HELP
};

static const struct option long_options[] = {
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"unix-socket", required_argument, NULL, OPT_UNIX_SOCKET},
    {"data", required_argument, NULL, OPT_DATA},
    {"input", required_argument, NULL, OPT_INPUT},
    {"binary", no_argument, NULL, OPT_BINARY},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"id", required_argument, NULL, OPT_ID},
    {"graph", no_argument, NULL, OPT_GRAPH},
    {"header", required_argument, NULL, OPT_HEADER},
    {"bearer", required_argument, NULL, OPT_BEARER},
    {"basic", required_argument, NULL, OPT_BASIC},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"capath", required_argument, NULL, OPT_CAPATH},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"key-password", required_argument, NULL, OPT_KEY_PASSWORD},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"pretty", no_argument, NULL, OPT_PRETTY},
    {"show-headers", no_argument, NULL, OPT_SHOW_HEADERS},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

/* Leading ':' makes getopt report a missing argument as ':' and stay
 * silent, so that every message comes from here. */
static const char short_options[] = ":d:i:H:kvVh";

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("kinfer: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'kinfer --help' for more information.\n", stderr);
  return CLI_EXIT_USAGE;
}

static int out_of_memory(void) {
  fputs("kinfer: out of memory\n", stderr);
  return CLI_EXIT_OTHER;
}

/* |arr| (of |n| elements of |size| bytes) grown by one element, or NULL
 * when out of memory (|arr| is then left as it was). */
static void *grow(void *arr, size_t n, size_t size) {
  return realloc(arr, (n + 1) * size);
}

static int parse_timeout(const char *s, struct cli_options *o) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < 0 ||
      v > 1e9)
    return cli_usage_error("--timeout: '%s' is not a number of seconds "
                           "(0 for none)", s);
  o->timeout = v;
  o->timeout_set = true;
  return -1;
}

static int parse_retries(const char *s, struct cli_options *o) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE || v < 0 || v > 100)
    return cli_usage_error("--retries: '%s' is not a whole number from 0 "
                           "to 100", s);
  o->retries = (int)v;
  return -1;
}

static int parse_protocol(const char *s, struct cli_options *o) {
  if (strcasecmp(s, "v1") != 0 && strcasecmp(s, "v2") != 0)
    return cli_usage_error("--protocol: '%s' is not v1 or v2", s);
  o->protocol = s;
  return -1;
}

/* RFC 9110 token characters. */
static bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_header(const char *s, struct cli_options *o) {
  const char *colon = strchr(s, ':');
  if (colon == NULL || colon == s)
    return cli_usage_error("-H: '%s' is not 'Name: value'", s);
  for (const char *p = s; p < colon; p++)
    if (!is_token_char(*p))
      return cli_usage_error("-H: bad character in header name '%.*s'",
                             (int)(colon - s), s);
  if (strpbrk(colon, "\r\n") != NULL)
    return cli_usage_error("-H: header value contains a line break");
  const char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t vlen = strlen(v);
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    vlen--;
  struct cli_header *h = grow(o->headers, o->n_headers, sizeof *h);
  if (h == NULL)
    return out_of_memory();
  o->headers = h;
  h += o->n_headers;
  h->name = strndup(s, (size_t)(colon - s));
  h->value = strndup(v, vlen);
  if (h->name == NULL || h->value == NULL) {
    free(h->name);
    free(h->value);
    return out_of_memory();
  }
  o->n_headers++;
  return -1;
}

static int parse_basic(const char *s, struct cli_options *o) {
  const char *colon = strchr(s, ':');
  if (colon == NULL)
    return cli_usage_error("--basic: expected USER:PASSWORD");
  free(o->basic_user);
  free(o->basic_password);
  o->basic_user = strndup(s, (size_t)(colon - s));
  o->basic_password = strdup(colon + 1);
  if (o->basic_user == NULL || o->basic_password == NULL)
    return out_of_memory();
  return -1;
}

/* Reads all of |f| into a NUL-terminated buffer. */
static char *read_stream(FILE *f, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  for (;;) {
    if (cap - n < 2) {
      char *p = realloc(buf, cap * 2);
      if (p == NULL) {
        free(buf);
        return NULL;
      }
      buf = p;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int parse_data(const char *s, struct cli_options *o) {
  if (o->body != NULL)
    return cli_usage_error("-d given more than once");
  if (s[0] != '@') {
    o->body_len = strlen(s);
    o->body = strdup(s);
    return o->body != NULL ? -1 : out_of_memory();
  }
  const char *path = s + 1;
  bool use_stdin = strcmp(path, "-") == 0;
  FILE *f = use_stdin ? stdin : fopen(path, "rb");
  if (f == NULL)
    return cli_usage_error("-d: cannot open '%s': %s", path, strerror(errno));
  errno = 0;
  o->body = read_stream(f, &o->body_len);
  int saved = errno;
  if (!use_stdin)
    fclose(f);
  if (o->body == NULL) {
    if (saved == ENOMEM)
      return out_of_memory();
    return cli_usage_error("-d: cannot read '%s': %s", path,
                           strerror(saved != 0 ? saved : EIO));
  }
  return -1;
}

static int parse_input(const char *s, struct cli_options *o) {
  char msg[256];
  struct cli_tensor *t = grow(o->inputs, o->n_inputs, sizeof *t);
  if (t == NULL)
    return out_of_memory();
  o->inputs = t;
  if (cli_tensor_parse(s, &t[o->n_inputs], msg, sizeof msg) != 0)
    return cli_usage_error("-i '%s': %s", s, msg);
  o->n_inputs++;
  return -1;
}

static int add_output(const char *s, struct cli_options *o) {
  if (s[0] == '\0')
    return cli_usage_error("--output: empty output name");
  const char **outputs = grow(o->outputs, o->n_outputs, sizeof *outputs);
  if (outputs == NULL)
    return out_of_memory();
  o->outputs = outputs;
  o->outputs[o->n_outputs++] = s;
  return -1;
}

static int not_empty(const char *opt, const char *s, const char **dst) {
  if (s[0] == '\0')
    return cli_usage_error("%s: empty argument", opt);
  *dst = s;
  return -1;
}

static void print_version(void) {
  printf("kinfer %s (libkinfer %s)\n", KINFER_VERSION, kinfer_version());
}

/* Handles one option; returns -1 to go on, or an exit status. */
static int parse_option(int c, const char *arg, struct cli_options *o) {
  switch (c) {
  case OPT_PROTOCOL: return parse_protocol(arg, o);
  case OPT_HTTP2: o->http2 = true; return -1;
  case OPT_TIMEOUT: return parse_timeout(arg, o);
  case OPT_RETRIES: return parse_retries(arg, o);
  case OPT_UNIX_SOCKET: return not_empty("--unix-socket", arg, &o->unix_socket);
  case OPT_DATA: return parse_data(arg, o);
  case OPT_INPUT: return parse_input(arg, o);
  case OPT_BINARY: o->binary = true; return -1;
  case OPT_OUTPUT: return add_output(arg, o);
  case OPT_ID: o->id = arg; return -1;
  case OPT_GRAPH: o->graph = true; return -1;
  case OPT_HEADER: return parse_header(arg, o);
  case OPT_BEARER: return not_empty("--bearer", arg, &o->bearer);
  case OPT_BASIC: return parse_basic(arg, o);
  case OPT_CACERT: return not_empty("--cacert", arg, &o->cacert);
  case OPT_CAPATH: return not_empty("--capath", arg, &o->capath);
  case OPT_CERT: return not_empty("--cert", arg, &o->cert);
  case OPT_KEY: return not_empty("--key", arg, &o->key);
  case OPT_KEY_PASSWORD: o->key_password = arg; return -1;
  case OPT_INSECURE: o->insecure = true; return -1;
  case OPT_PRETTY: o->pretty = true; return -1;
  case OPT_SHOW_HEADERS: o->show_headers = true; return -1;
  case OPT_VERBOSE: o->verbose = true; return -1;
  case OPT_VERSION: print_version(); return CLI_EXIT_OK;
  case OPT_HELP: fputs(usage_text, stdout); return CLI_EXIT_OK;
  default: return cli_usage_error("internal error: option %d", c);
  }
}

static const struct {
  const char *name;
  enum cli_command cmd;
  int model; /* 0: none, 1: required, 2: required unless --graph */
} commands[] = {
    {"live", CLI_CMD_LIVE, 0},
    {"ready", CLI_CMD_READY, 0},
    {"model-ready", CLI_CMD_MODEL_READY, 1},
    {"infer", CLI_CMD_INFER, 2},
    {"explain", CLI_CMD_EXPLAIN, 1},
};

/* Checks the positional arguments and how the options combine. */
static int check_operands(int argc, char **argv, struct cli_options *o) {
  if (argc < 1)
    return cli_usage_error("missing COMMAND (live, ready, model-ready, "
                           "infer or explain)");
  size_t i;
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[0], commands[i].name) == 0)
      break;
  if (i == sizeof commands / sizeof commands[0])
    return cli_usage_error("unknown command '%s' (expected live, ready, "
                           "model-ready, infer or explain)", argv[0]);
  const char *name = commands[i].name;
  o->command = commands[i].cmd;
  if (argc < 2)
    return cli_usage_error("%s: missing URL", name);
  o->url = argv[1];
  int max_operands = commands[i].model != 0 ? 3 : 2;
  if (argc > max_operands)
    return cli_usage_error("%s: unexpected argument '%s'", name,
                           argv[max_operands]);
  o->model = argc > 2 ? argv[2] : NULL;
  if (commands[i].model == 1 && o->model == NULL)
    return cli_usage_error("%s: missing MODEL", name);
  if (commands[i].model == 2 && o->model == NULL && !o->graph)
    return cli_usage_error("%s: missing MODEL (or --graph)", name);
  if (o->graph && o->command != CLI_CMD_INFER)
    return cli_usage_error("--graph applies to infer only");
  if (o->show_headers && o->command != CLI_CMD_INFER)
    return cli_usage_error("--show-headers applies to infer only");

  bool sends_body = o->command == CLI_CMD_INFER ||
                    o->command == CLI_CMD_EXPLAIN;
  if (!sends_body) {
    if (o->body != NULL || o->n_inputs > 0 || o->n_outputs > 0 || o->binary ||
        o->id != NULL)
      return cli_usage_error("%s sends no request body: -d, -i, --binary, "
                             "--output and --id apply to infer and explain",
                             name);
    return -1;
  }
  if (o->body != NULL && o->n_inputs > 0)
    return cli_usage_error("use either -d or -i, not both");
  if (o->body == NULL && o->n_inputs == 0)
    return cli_usage_error("%s: no request: give -d JSON or -i inputs", name);
  if (o->body != NULL && (o->binary || o->n_outputs > 0 || o->id != NULL))
    return cli_usage_error("--binary, --output and --id build on -i inputs; "
                           "with -d, write them into the JSON");
  for (size_t a = 0; a < o->n_inputs; a++)
    for (size_t b = a + 1; b < o->n_inputs; b++)
      if (strcmp(o->inputs[a].name, o->inputs[b].name) == 0)
        return cli_usage_error("-i: input '%s' given twice", o->inputs[a].name);
  return -1;
}

static int check_options(const struct cli_options *o) {
  if (o->key != NULL && o->cert == NULL)
    return cli_usage_error("--key needs --cert");
  if (o->key_password != NULL && o->cert == NULL)
    return cli_usage_error("--key-password needs --cert");
  if (o->bearer != NULL && o->basic_user != NULL)
    return cli_usage_error("use either --bearer or --basic, not both");
  return -1;
}

/* The getopt value of a short option's long form. */
static int long_value(int c) {
  switch (c) {
  case 'd': return OPT_DATA;
  case 'i': return OPT_INPUT;
  case 'H': return OPT_HEADER;
  case 'k': return OPT_INSECURE;
  case 'v': return OPT_VERBOSE;
  case 'V': return OPT_VERSION;
  case 'h': return OPT_HELP;
  default: return c;
  }
}

/* Whether the long option |arg| ("--na[=value]") abbreviates several. */
static bool is_ambiguous(const char *arg) {
  if (strncmp(arg, "--", 2) != 0)
    return false;
  arg += 2;
  size_t n = strcspn(arg, "=");
  int matches = 0;
  for (const struct option *lo = long_options; lo->name != NULL; lo++)
    if (strncmp(lo->name, arg, n) == 0)
      matches++;
  return matches > 1;
}

/* Reports what getopt found wrong.  optopt is the short option character,
 * a long option's value (>= 256), or 0 for an unknown long option; for a
 * long option, |last| is the argument that held it. */
static int getopt_error(int c, const char *last) {
  if (optopt > 0 && optopt < 256) {
    if (c == ':')
      return cli_usage_error("option '-%c' needs an argument", optopt);
    return cli_usage_error("unknown option '-%c'", optopt);
  }
  if (optopt == 0)
    return cli_usage_error("%s option '%s'",
                           is_ambiguous(last) ? "ambiguous" : "unknown", last);
  if (c == ':')
    return cli_usage_error("option '%s' needs an argument", last);
  return cli_usage_error("option '%s' takes no argument", last);
}

int cli_parse_args(int argc, char **argv, struct cli_options *o) {
  memset(o, 0, sizeof *o);
  o->retries = -1;
  opterr = 0;
  int c, rc;
  while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) !=
         -1) {
    if (c == '?' || c == ':')
      return getopt_error(c, argv[optind - 1]);
    if ((rc = parse_option(long_value(c), optarg, o)) >= 0)
      return rc;
  }
  if ((rc = check_operands(argc - optind, argv + optind, o)) >= 0)
    return rc;
  return check_options(o);
}

void cli_options_free(struct cli_options *o) {
  for (size_t i = 0; i < o->n_headers; i++) {
    free(o->headers[i].name);
    free(o->headers[i].value);
  }
  free(o->headers);
  free(o->basic_user);
  free(o->basic_password);
  free(o->body);
  for (size_t i = 0; i < o->n_inputs; i++)
    cli_tensor_free(&o->inputs[i]);
  free(o->inputs);
  free(o->outputs);
  memset(o, 0, sizeof *o);
}
