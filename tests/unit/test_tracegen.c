/* placeholder: replaced by the tracegen tests */
#include "helpers.h"
int main(void){ return 0; }
