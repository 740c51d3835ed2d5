/* fuzz_pyautogui.c - libFuzzer target for the replay DSL
 * (replay/pyautogui.h): st_pyautogui_parse on any bytes. Properties: no
 * crash, leak or undefined behaviour; a refusal carries a code and a
 * message; what parses writes back (st_pyautogui_format) within
 * ST_PYAUTOGUI_INPUT_MAX to a string that parses to equal ops, and writing
 * those again gives the same bytes (the canonical form is a fixed point).
 * Seeds: fuzz/corpus/pyautogui/, one exporter string per file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "replay/pyautogui.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_pyautogui_ops ops, back;
	struct st_error e = {0};
	if (st_pyautogui_parse((const char *)data, size, &ops, &e) != 0) {
		if (e.code == 0 || e.msg[0] == 0)
			fuzz_die("a refusal without a code and message", &e);
		if (ops.n != 0 || ops.v != NULL)
			fuzz_die("a refusal left ops behind", NULL);
		return 0;
	}
	char *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	if (st_pyautogui_format(&ops, &out, &len, &e) != 0)
		fuzz_die("parsed ops do not format", &e);
	if (len != strlen(out) || len > ST_PYAUTOGUI_INPUT_MAX)
		fuzz_die("formatted string has the wrong length", NULL);
	if (st_pyautogui_parse(out, len, &back, &e) != 0)
		fuzz_die("the formatted string does not parse", &e);
	if (back.n != ops.n)
		fuzz_die("the formatted string parses to another op count", NULL);
	for (size_t k = 0; k < ops.n; k++)
		if (!st_pyautogui_op_equal(&ops.v[k], &back.v[k]))
			fuzz_die("the formatted string parses to other ops", NULL);
	if (st_pyautogui_format(&back, &again, &len2, &e) != 0)
		fuzz_die("re-parsed ops do not format", &e);
	if (len2 != len || memcmp(out, again, len) != 0)
		fuzz_die("the canonical form is not a fixed point", NULL);
	free(again);
	free(out);
	st_pyautogui_ops_fini(&back);
	st_pyautogui_ops_fini(&ops);
	return 0;
}
