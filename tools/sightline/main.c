/* sightline: inspect models, run them on images, measure accuracy. */
#include <stdio.h>
#include <string.h>

#include "tools/sightline/cli.h"
#include "tools/sightline_tools.h"

static void usage(FILE *f)
{
	fputs("usage: sightline COMMAND ...\n"
	      "  inspect MODEL [options]                              tensors, operators, MACs, sparsity,\n"
	      "                                                       kernels; --profile N times them\n"
	      "  infer MODEL IMAGE... [options]                       classes or boxes for images\n"
	      "  eval MODEL DIR [options]                             accuracy and latency on a labelled "
	      "folder\n"
	      "  compress MODEL --calib DIR --out LADDER_DIR          build the variant ladder\n"
	      "  bench LADDER_DIR DIR [options]                       measure every variant of a ladder\n"
	      "Run 'sightline COMMAND --help' for the options of a command.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return SL_CLI_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	/* Subcommands parse argv[1..]: getopt then sees the command as argv[0]. */
	if (strcmp(cmd, "inspect") == 0)
		return sl_cli_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "infer") == 0)
		return sl_cli_infer(argc - 1, argv + 1);
	if (strcmp(cmd, "eval") == 0)
		return sl_cli_eval(argc - 1, argv + 1);
	if (strcmp(cmd, "compress") == 0)
		return sl_cli_compress(argc - 1, argv + 1);
	if (strcmp(cmd, "bench") == 0)
		return sl_cli_bench(argc - 1, argv + 1);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "sightline: unknown command '%s'\n", cmd);
	usage(stderr);
	return SL_CLI_EXIT_USAGE;
}
