/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloopctl: query and control sdloopd over D-Bus (org.sdloop1 on the system bus, the user's bus with
 * --user, or a remote host's system bus over ssh with -H), in the manner of systemctl. */

#include <getopt.h>
#include <locale.h>

#include "config.h"
#include "sdloopctl.h"

JsonMode arg_json = JSON_OFF;
bool arg_legend = true;
bool arg_quiet = false;
bool arg_full = false;
bool arg_user = false;
const char *arg_host = NULL;
unsigned arg_lines = 10;
uint64_t arg_timeout_usec = SDLOOPCTL_TIMEOUT_USEC_DEFAULT;

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* counting the verb itself */
        int (*dispatch)(sd_bus *bus, char **args);
} Verb;

#define ARGS_MAX UINT32_MAX

static const Verb verbs[] = {
        { "list",    1, 1,        verb_list       },
        { "status",  1, ARGS_MAX, verb_status     },
        { "start",   2, ARGS_MAX, verb_start_stop },
        { "stop",    2, ARGS_MAX, verb_start_stop },
        { "restart", 2, ARGS_MAX, verb_start_stop },
        { "health",  1, ARGS_MAX, verb_health     },
        { "feeds",   1, 1,        verb_feeds      },
        { "reload",  1, 1,        verb_reload     },
        { "help",    1, 1,        NULL            },
};

static void help(void) {
        printf("%1$s [OPTIONS...] COMMAND ...\n\n"
               "%2$sQuery and control the sdloop plugin host, sdloopd.%3$s\n\n"
               "Commands:\n"
               "  list                   List the plugins (default command)\n"
               "  status [NAME...]       Show the state of plugins and their last log lines\n"
               "  start NAME...          Start plugins\n"
               "  stop NAME...           Stop plugins\n"
               "  restart NAME...        Restart plugins; their callers keep their handles\n"
               "  health [NAME...]       Show the health reports of the plugins' objects\n"
               "  feeds                  List the feeds with their latest answers\n"
               "  reload                 Make sdloopd re-read its configuration\n"
               "  help                   Show this help\n"
               "\nOptions:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --system            Talk to sdloopd on the system bus (default)\n"
               "     --user              Talk to the user's sdloopd (sdloopd --user)\n"
               "  -H --host=[USER@]HOST  Talk to sdloopd on a remote host, over ssh\n"
               "     --json=pretty|short|off\n"
               "                         Print JSON (plain --json: pretty); start, stop, restart\n"
               "                         and reload then print the resulting state\n"
               "     --no-legend         Print tables without header and footer\n"
               "  -q --quiet             status, health: print nothing, only set the exit status;\n"
               "                         tables: no header and footer\n"
               "  -l --full              Do not ellipsize table cells to fit the terminal\n"
               "  -n --lines=N           Journal lines shown by status (default: 10)\n"
               "     --timeout=SECONDS   How long to wait for each answer of list, status, health\n"
               "                         and feeds (default: 5; also \"500ms\")\n"
               "\nExit status:\n"
               "  0  success: status found every plugin running, health found all healthy\n"
               "  1  failure, or health found something unhealthy\n"
               "  2  bad usage: unknown command or option, wrong number of arguments\n"
               "  3  status: a plugin is not running (stopped, failed, starting, recovering,\n"
               "     unresponsive...)\n"
               "  4  no such plugin\n",
               program_invocation_short_name, ansi(ANSI_HIGHLIGHT), ansi(ANSI_NORMAL));
}

static int parse_json_mode(const char *s) {
        if (!s || streq(s, "pretty"))
                arg_json = JSON_PRETTY;
        else if (streq(s, "short"))
                arg_json = JSON_SHORT;
        else if (streq(s, "off"))
                arg_json = JSON_OFF;
        else if (streq(s, "help")) {
                puts("pretty\nshort\noff");
                return 0;
        } else {
                log_error("Unknown --json= mode \"%s\" (pretty, short, off).", s);
                return -EINVAL;
        }
        return 1;
}

/* Seconds, with a fraction or an "s" or "ms" suffix: "5", "2.5", "500ms". */
static int parse_timeout(const char *s, uint64_t *ret) {
        double d, unit = (double) USEC_PER_SEC;
        char *end;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || !(d > 0))
                return -EINVAL;
        if (streq(end, "ms"))
                unit = (double) USEC_PER_MSEC;
        else if (!streq(end, "") && !streq(end, "s"))
                return -EINVAL;
        if (d * unit >= (double) (UINT64_MAX / 2) || d * unit < 1)
                return -ERANGE;
        *ret = (uint64_t) (d * unit);
        return 0;
}

/* 1: go on; 0: done (help, version); -EINVAL: usage error, already reported. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SYSTEM,
                ARG_USER,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_NO_PAGER,
                ARG_TIMEOUT,
        };
        static const struct option options[] = {
                { "help",      no_argument,       NULL, 'h'           },
                { "version",   no_argument,       NULL, ARG_VERSION   },
                { "system",    no_argument,       NULL, ARG_SYSTEM    },
                { "user",      no_argument,       NULL, ARG_USER      },
                { "host",      required_argument, NULL, 'H'           },
                { "json",      optional_argument, NULL, ARG_JSON      },
                { "no-legend", no_argument,       NULL, ARG_NO_LEGEND },
                { "no-pager",  no_argument,       NULL, ARG_NO_PAGER  }, /* accepted: we never page */
                { "quiet",     no_argument,       NULL, 'q'           },
                { "full",      no_argument,       NULL, 'l'           },
                { "lines",     required_argument, NULL, 'n'           },
                { "timeout",   required_argument, NULL, ARG_TIMEOUT   },
                {}
        };
        int c, r;

        /* Errors are ours to word, one line each. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hH:qln:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("sdloopctl %s\n", SDLOOP_VERSION);
                        return 0;
                case ARG_SYSTEM:
                        arg_user = false;
                        break;
                case ARG_USER:
                        arg_user = true;
                        break;
                case 'H':
                        if (isempty(optarg)) {
                                log_error("--host= needs a host name.");
                                return -EINVAL;
                        }
                        arg_host = optarg;
                        break;
                case ARG_JSON:
                        r = parse_json_mode(optarg);
                        if (r <= 0)
                                return r;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NO_PAGER:
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case 'l':
                        arg_full = true;
                        break;
                case 'n': {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || optarg[0] == '-' || v > 100000) {
                                log_error("Invalid number of lines: %s", optarg);
                                return -EINVAL;
                        }
                        arg_lines = (unsigned) v;
                        break;
                }
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg, &arg_timeout_usec) < 0) {
                                log_error("Invalid timeout: %s", optarg);
                                return -EINVAL;
                        }
                        break;
                case ':':
                        if (optopt >= 0x100 || optopt == 0)
                                log_error("Option %s requires an argument.", argv[optind - 1]);
                        else
                                log_error("Option -%c requires an argument.", optopt);
                        return -EINVAL;
                case '?':
                        if (optopt != 0 && optopt < 0x100)
                                log_error("Unknown option -%c.", optopt);
                        else
                                log_error("Unknown option %s.", argv[optind - 1]);
                        return -EINVAL;
                default:
                        assert(false);
                }

        if (arg_user && arg_host) {
                log_error("--user and --host= cannot be combined: remote hosts are reached on their system bus.");
                return -EINVAL;
        }
        if (arg_quiet)
                arg_legend = false;
        return 1;
}

static int bus_connect(sd_bus **ret) {
        int r;

        if (arg_host)
                r = sd_bus_open_system_remote(ret, arg_host);
        else if (arg_user)
                r = sd_bus_open_user(ret);
        else
                r = sd_bus_open_system(ret);
        if (r < 0) {
                if (arg_host)
                        log_error("Failed to connect to the system bus of %s: %s", arg_host, strerror(-r));
                else
                        log_error("Failed to connect to the %s bus: %s", arg_user ? "user" : "system", strerror(-r));
                return r;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *verb = NULL;
        char **args;
        int r, n_args;

        (void) setlocale(LC_ALL, "");

        r = parse_argv(argc, argv);
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return EXIT_OK;

        args = argv + optind;
        n_args = argc - optind;
        if (n_args == 0) {
                static char *default_args[] = { (char *) "list", NULL };

                args = default_args;
                n_args = 1;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, args[0])) {
                        verb = &verbs[i];
                        break;
                }
        if (!verb) {
                log_error("Unknown command verb '%s'; see %s --help.", args[0], program_invocation_short_name);
                return EXIT_USAGE;
        }
        if ((unsigned) n_args < verb->min_args) {
                log_error("Too few arguments for '%s'.", verb->name);
                return EXIT_USAGE;
        }
        if ((unsigned) n_args > verb->max_args) {
                log_error("Too many arguments for '%s'.", verb->name);
                return EXIT_USAGE;
        }
        if (!verb->dispatch) {
                help();
                return EXIT_OK;
        }

        if (bus_connect(&bus) < 0)
                return EXIT_FAILED;
        /* Every call that does not say otherwise: list, status, feeds, health's list of plugins. */
        r = sd_bus_set_method_call_timeout(bus, arg_timeout_usec);
        if (r < 0)
                log_error("Failed to set the call timeout, ignoring: %s", strerror(-r));

        return verb->dispatch(bus, args);
}
