#include "decimal.h"

int
parse_decimal(const char *s, double *out)
{
	double ip = 0, scale = 1;
	int digits = 0, seen_dot = 0, significant = 0;

	if (*s == '+')
		s++;
	for (; *s; s++) {
		if (*s == '.') {
			if (seen_dot)
				return -1;
			seen_dot = 1;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -1;
		if (significant || *s != '0')
			significant++;
		if (significant > 15)
			return -1;
		digits++;
		ip = ip * 10 + (*s - '0');
		if (seen_dot)
			scale *= 10;
	}
	if (!digits)
		return -1;
	*out = ip / scale;
	return 0;
}
