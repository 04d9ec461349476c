/*
 * audiofile.c - the audio files aur-render writes (audiofile.h).
 *
 * libsndfile writes through our own I/O callbacks on the temporary's
 * descriptor, because it does not report every failed write: FLAC, Vorbis
 * and Opus flush their last pages in sf_close and drop the error there, so
 * a full disk would leave a truncated file behind a status of 0.  The
 * callbacks keep the first error, and audiofile_finish refuses the file.
 */
#include "audiofile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "opusstream.h"

struct audiofile {
	SNDFILE *sf;
	int fd;                 /* the temporary, open for reading and writing */
	int write_errno;        /* the first write that failed, or 0 */
	mode_t mode;            /* the mode it takes at the end */
	bool replaces;          /* a file of that name exists: it keeps its owner */
	uid_t uid;
	gid_t gid;
	char *path;             /* as given, for messages */
	char *target;           /* the file it replaces: path, or where path links to */
	char *temp;             /* .NAME.XXXXXX beside target */
	struct audiofile *next; /* in the list of temporaries to remove at exit */
};

static struct audiofile *pending;

/* At exit, no temporary that did not take its name stays behind. */
static void
remove_pending(void)
{
	for (struct audiofile *f = pending; f; f = f->next)
		unlink(f->temp);
}

/* Takes f out of the pending list and frees it. */
static void
forget(struct audiofile *f)
{
	for (struct audiofile **p = &pending; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	free(f->path);
	free(f->target);
	free(f->temp);
	free(f);
}

/* --- libsndfile's I/O, on the temporary's descriptor --- */

static sf_count_t
vio_filelen(void *data)
{
	struct stat st;

	return fstat(((struct audiofile *)data)->fd, &st) == 0 ? (sf_count_t)st.st_size : -1;
}

static sf_count_t
vio_seek(sf_count_t offset, int whence, void *data)
{
	return lseek(((struct audiofile *)data)->fd, (off_t)offset, whence);
}

static sf_count_t
vio_read(void *ptr, sf_count_t count, void *data)
{
	ssize_t n;

	do
		n = read(((struct audiofile *)data)->fd, ptr, (size_t)count);
	while (n < 0 && errno == EINTR);
	return n < 0 ? 0 : n;
}

/* Writes all it can; a failure is kept for audiofile_write and _finish. */
static sf_count_t
vio_write(const void *ptr, sf_count_t count, void *data)
{
	struct audiofile *f = data;
	sf_count_t done = 0;

	while (done < count) {
		ssize_t n = write(f->fd, (const char *)ptr + done, (size_t)(count - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!f->write_errno)
				f->write_errno = n < 0 ? errno : EIO;
			break;
		}
		done += n;
	}
	return done;
}

static sf_count_t
vio_tell(void *data)
{
	return lseek(((struct audiofile *)data)->fd, 0, SEEK_CUR);
}

static SF_VIRTUAL_IO vio = {
	.get_filelen = vio_filelen,
	.seek = vio_seek,
	.read = vio_read,
	.write = vio_write,
	.tell = vio_tell,
};

/* --- formats --- */

int
audiofile_format(const char *path)
{
	static const struct { const char *ext; int format; } formats[] = {
		{ ".wav", SF_FORMAT_RF64 | SF_FORMAT_PCM_16 },  /* downgraded below 4 GiB */
		{ ".flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16 },
		{ ".ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS },
		{ ".oga", SF_FORMAT_OGG | SF_FORMAT_VORBIS },
		{ ".opus", SF_FORMAT_OGG | SF_FORMAT_OPUS },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof formats / sizeof formats[0]; i++)
		if (!strcasecmp(dot, formats[i].ext))
			return formats[i].format;
	return 0;
}

bool
audiofile_is_opus(const char *path)
{
	return path && (audiofile_format(path) & SF_FORMAT_SUBMASK) == SF_FORMAT_OPUS;
}

int
audiofile_settings(const char *path, long *rate, long *kbps, char *err, size_t errlen)
{
	if (!audiofile_is_opus(path)) {
		if (*kbps) {
			snprintf(err, errlen, "--bitrate: only for an .opus output");
			return -1;
		}
		if (!*rate)
			*rate = AUDIOFILE_RATE;
		return 0;
	}
	if (!*rate)
		*rate = AUDIOFILE_OPUS_RATE;
	if (!*kbps)
		*kbps = AUDIOFILE_OPUS_KBPS;
	if (opus_stream_rate_ok(*rate))
		return 0;
	snprintf(err, errlen, "--rate: an .opus file takes 8000, 12000, 16000, 24000 or 48000, not %ld",
	    *rate);
	return -1;
}

/* --- writing --- */

/*
 * Settles what f replaces and the mode it takes: an existing file keeps
 * its mode (and owner, when we may), a new one gets what open(2) would
 * give.  Returns 0, or -1 with the reason reported.
 */
static int
settle_target(struct audiofile *f)
{
	struct stat st;
	mode_t mask;

	if (lstat(f->path, &st) == 0 && S_ISLNK(st.st_mode))
		f->target = realpath(f->path, NULL);   /* NULL when it dangles */
	if (!f->target && !(f->target = strdup(f->path)))
		return -1;
	if (stat(f->target, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			warnf("%s: %s", f->path, S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
			return -1;
		}
		f->mode = st.st_mode & 07777;
		f->replaces = true;
		f->uid = st.st_uid;
		f->gid = st.st_gid;
		return 0;
	}
	if (errno != ENOENT) {
		warnf("%s:", f->path);
		return -1;
	}
	mask = umask(0);
	umask(mask);
	f->mode = 0666 & ~mask;
	return 0;
}

/* Makes the temporary, .NAME.XXXXXX in target's directory.  Returns 0 or -1. */
static int
make_temp(struct audiofile *f)
{
	const char *slash = strrchr(f->target, '/');
	size_t dirlen = slash ? (size_t)(slash - f->target + 1) : 0;
	size_t len = strlen(f->target) + 9;

	if (!(f->temp = malloc(len)))
		return -1;
	snprintf(f->temp, len, "%.*s.%s.XXXXXX", (int)dirlen, f->target, f->target + dirlen);
	f->fd = mkstemp(f->temp);
	if (f->fd < 0) {
		warnf("%s: cannot create a file in its directory:", f->path);
		return -1;
	}
	(void)fcntl(f->fd, F_SETFD, FD_CLOEXEC);
	if (f->replaces && (f->uid != geteuid() || f->gid != getegid()))
		(void)!fchown(f->fd, f->uid, f->gid);   /* as far as we may */
	return 0;
}

struct audiofile *
audiofile_create(const char *path, long rate, long kbps)
{
	static bool cleanup_set;
	SF_INFO info = { .samplerate = (int)rate, .channels = 2, .format = audiofile_format(path) };
	struct audiofile *f = calloc(1, sizeof *f);

	if (!f || !(f->path = strdup(path))) {
		free(f);
		warnf("out of memory");
		return NULL;
	}
	f->fd = -1;
	if (!cleanup_set)
		cleanup_set = atexit(remove_pending) == 0;
	if (settle_target(f) < 0 || make_temp(f) < 0) {
		forget(f);
		return NULL;
	}
	f->next = pending;
	pending = f;
	if (!(f->sf = sf_open_virtual(&vio, SFM_WRITE, &info, f))) {
		warnf("%s: %s", path, sf_strerror(NULL));
		audiofile_discard(f);
		return NULL;
	}
	if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RF64)
		sf_command(f->sf, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
	if (audiofile_is_opus(path)) {
		/*
		 * libsndfile sets an Opus file's bitrate from a compression level
		 * in 0..1, linear from about 512 kbit/s (0) to 12 kbit/s (1) for
		 * stereo: measured, 0.768 gives 129.6 kbit/s on ambient music.
		 */
		double level = (512.0 - (double)kbps) / 500.0;
		int mode = SF_BITRATE_MODE_VARIABLE;

		if (level < 0)
			level = 0;
		sf_command(f->sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
		if (sf_command(f->sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level) != SF_TRUE)
			warnf("%s: cannot set the bitrate: %s", path, sf_strerror(f->sf));
	}
	return f;
}

int
audiofile_write(struct audiofile *f, const int16_t *frames, size_t n)
{
	sf_count_t done = sf_writef_short(f->sf, frames, (sf_count_t)n);

	if (f->write_errno) {
		errno = f->write_errno;
		warnf("%s:", f->path);
		return -1;
	}
	if (done != (sf_count_t)n) {
		warnf("%s: %s", f->path, sf_strerror(f->sf));
		return -1;
	}
	return 0;
}

/* Syncs the directory that holds path, so that the rename lasts. */
static int
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup(".");
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	int rc = fd < 0 || (fsync(fd) < 0 && errno != EINVAL) ? -1 : 0;

	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int
audiofile_finish(struct audiofile *f)
{
	int closed = sf_close(f->sf), rc = -1;

	f->sf = NULL;
	if (f->write_errno) {
		errno = f->write_errno;
		warnf("%s:", f->path);
	} else if (closed != 0) {
		warnf("%s: cannot finish the file: %s", f->path, sf_error_number(closed));
	} else if (fchmod(f->fd, f->mode) < 0 || fsync(f->fd) < 0) {
		warnf("%s:", f->path);
	} else {
		rc = 0;
	}
	if (close(f->fd) < 0 && rc == 0) {
		warnf("%s:", f->path);
		rc = -1;
	}
	if (rc == 0 && rename(f->temp, f->target) < 0) {
		warnf("%s:", f->path);
		rc = -1;
	}
	if (rc < 0)
		unlink(f->temp);
	else if (sync_dir(f->target) < 0)
		warnf("%s: cannot sync its directory:", f->path);
	forget(f);
	return rc;
}

void
audiofile_discard(struct audiofile *f)
{
	if (f->sf)
		sf_close(f->sf);
	if (f->fd >= 0)
		close(f->fd);
	unlink(f->temp);
	forget(f);
}

SNDFILE *
audiofile_sndfile(struct audiofile *f)
{
	return f->sf;
}
