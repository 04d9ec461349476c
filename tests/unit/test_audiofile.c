/*
 * test_audiofile.c - the files aur-render writes: a .wav past 4 GiB is
 * RF64 and reads back whole, one below is plain RIFF WAVE; a file takes
 * its name only when finished, keeps the mode of the one it replaces, and
 * a failed or discarded one leaves the old file and no temporary.
 *
 * The file past 4 GiB is sparse (a seek over the middle), so it costs a
 * few blocks of disk; on a filesystem without holes that test is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audiofile.h"
#include "check.h"
#include "err.h"

#define BLOCK 4410                      /* frames: 100 ms */
#define FOUR_GIB ((int64_t)1 << 32)

static char dir[512];                  /* $TMPDIR/test_audiofile.XXXXXX */

/* dir/name, in a static buffer of its own per slot. */
static const char *
in_dir(const char *name)
{
	static char buf[4][1024];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	return p;
}

/* Fills block with a ramp that starts at seed: each block is recognisable. */
static void
fill(int16_t *block, int seed)
{
	for (int i = 0; i < 2 * BLOCK; i++)
		block[i] = (int16_t)(seed + i);
}

/* Entries of dir whose name starts with prefix. */
static int
count_entries(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void
put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static bool
has_text(const char *path, const char *text)
{
	char buf[64] = { 0 };
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	return n == strlen(text) && !memcmp(buf, text, n);
}

/* The first four bytes of a file: RIFF, RF64, fLaC, OggS. */
static const char *
magic(const char *path)
{
	static char m[5];
	FILE *f = fopen(path, "rb");

	memset(m, 0, sizeof m);
	if (f) {
		if (fread(m, 1, 4, f) != 4)
			m[0] = 0;
		fclose(f);
	}
	return m;
}

/* True when the filesystem of dir keeps holes: a 64 MiB one costs nothing. */
static bool
holes_kept(void)
{
	const char *probe = in_dir("probe");
	int fd = open(probe, O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct stat st;
	bool sparse = fd >= 0 && pwrite(fd, "x", 1, 64 << 20) == 1 && fstat(fd, &st) == 0 &&
	    st.st_blocks * 512 < (1 << 20);

	if (fd >= 0)
		close(fd);
	unlink(probe);
	return sparse;
}

/* Reads n frames at frame `at` and compares them with a block of seed. */
static bool
block_at(SNDFILE *sf, sf_count_t at, int seed)
{
	static int16_t want[2 * BLOCK], got[2 * BLOCK];

	fill(want, seed);
	return sf_seek(sf, at, SEEK_SET) == at && sf_readf_short(sf, got, BLOCK) == BLOCK &&
	    !memcmp(want, got, sizeof got);
}

static void
test_past_four_gib(void)
{
	static int16_t block[2 * BLOCK];
	const char *path = in_dir("big.wav");
	sf_count_t far = FOUR_GIB / 4 + 44100;  /* a second past 4 GiB of frames */
	struct audiofile *f;
	SF_INFO info = { 0 };
	SNDFILE *sf;
	struct stat st;

	if (!holes_kept()) {
		printf("audiofile: SKIP the file past 4 GiB: %s keeps no holes\n", dir);
		return;
	}
	f = audiofile_create(path, 44100, 0);
	CHECK(f != NULL);
	if (!f)
		return;
	fill(block, 1);
	CHECK(audiofile_write(f, block, BLOCK) == 0);
	/* The hole: libsndfile counts the frames it skips as written. */
	CHECK(sf_seek(audiofile_sndfile(f), far, SEEK_SET) == far);
	fill(block, 7);
	CHECK(audiofile_write(f, block, BLOCK) == 0);
	CHECK(audiofile_finish(f) == 0);

	CHECK(stat(path, &st) == 0 && st.st_size > FOUR_GIB);
	CHECK_STR(magic(path), "RF64");
	sf = sf_open(path, SFM_READ, &info);
	CHECK(sf != NULL);
	if (sf) {
		CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RF64);
		CHECK(info.frames == far + BLOCK);
		CHECK(info.channels == 2 && info.samplerate == 44100);
		CHECK(block_at(sf, 0, 1));
		CHECK(block_at(sf, far, 7));
		sf_close(sf);
	}
	unlink(path);
}

static void
test_small_wav_is_riff(void)
{
	static int16_t block[2 * BLOCK];
	const char *path = in_dir("small.wav");
	struct audiofile *f = audiofile_create(path, 44100, 0);
	SF_INFO info = { 0 };
	SNDFILE *sf;

	CHECK(f != NULL);
	fill(block, 3);
	CHECK(audiofile_write(f, block, BLOCK) == 0);
	CHECK(audiofile_finish(f) == 0);
	CHECK_STR(magic(path), "RIFF");
	sf = sf_open(path, SFM_READ, &info);
	CHECK(sf != NULL);
	if (!sf)
		return;
	CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAVEX);  /* WAVE_FORMAT_EXTENSIBLE */
	CHECK(info.frames == BLOCK);
	CHECK(block_at(sf, 0, 3));
	sf_close(sf);
	unlink(path);
}

/* A file takes its name only at the end; a discarded one leaves the old. */
static void
test_replace_or_keep(const char *name, const char *want_magic)
{
	static int16_t block[2 * BLOCK];
	const char *path = in_dir(name);
	long kbps = audiofile_is_opus(name) ? AUDIOFILE_OPUS_KBPS : 0;
	char prefix[64];
	struct audiofile *f;
	struct stat st;

	snprintf(prefix, sizeof prefix, ".%s.", name);
	put_text(path, "the old file");
	chmod(path, 0604);

	f = audiofile_create(path, 48000, kbps);
	CHECK(f != NULL);
	fill(block, 5);
	CHECK(audiofile_write(f, block, BLOCK) == 0);
	CHECK(count_entries(prefix) == 1);      /* the temporary, beside it */
	audiofile_discard(f);
	CHECK(has_text(path, "the old file"));
	CHECK(count_entries(prefix) == 0);

	f = audiofile_create(path, 48000, kbps);
	CHECK(f != NULL);
	CHECK(audiofile_write(f, block, BLOCK) == 0);
	CHECK(has_text(path, "the old file")); /* until the end */
	CHECK(audiofile_finish(f) == 0);
	CHECK_STR(magic(path), want_magic);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0604);
	CHECK(count_entries(prefix) == 0);
	unlink(path);

	/* A new file gets 0666 less the umask, not mkstemp's 0600. */
	umask(027);
	f = audiofile_create(path, 48000, kbps);
	CHECK(f != NULL && audiofile_finish(f) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	umask(022);
	unlink(path);
}

/*
 * Writes 2 s to path, under a file-size limit when limit > 0.  Returns 0
 * when every write and the finish succeed, else 1.
 */
static int
write_two_seconds(const char *path, rlim_t limit)
{
	static int16_t block[2 * BLOCK];
	long kbps = audiofile_is_opus(path) ? AUDIOFILE_OPUS_KBPS : 0;
	struct audiofile *f;
	int failed = 0;

	if (limit > 0) {
		struct rlimit rl = { limit, limit };

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
	}
	if (!(f = audiofile_create(path, 48000, kbps)))
		return 1;
	for (int i = 0; i < 20 && !failed; i++) {
		fill(block, i);
		failed = audiofile_write(f, block, BLOCK) < 0;
	}
	if (failed)
		audiofile_discard(f);
	else
		failed = audiofile_finish(f) < 0;
	return failed;
}

/*
 * Past a file-size limit every write fails (EFBIG), and a limit just short
 * of the whole file hits only the encoder's last pages, which libsndfile
 * writes in sf_close and whose failure it does not report.  Either way the
 * file is refused, the old one stays and no temporary is left.  In a
 * child: the limit is for the whole process.
 */
static void
test_write_failure(const char *name)
{
	const char *path = in_dir(name);
	char prefix[64];
	struct stat st;
	off_t size;

	snprintf(prefix, sizeof prefix, ".%s.", name);
	CHECK(write_two_seconds(path, 0) == 0);
	size = stat(path, &st) == 0 ? st.st_size : 0;
	CHECK(size > 4096);
	for (int i = 0; i < 2; i++) {
		rlim_t limit = (rlim_t)(i == 0 ? size - 1 : size / 2);
		int status = -1;
		pid_t child;

		put_text(path, "the old file");
		child = fork();
		if (child == 0)
			_exit(write_two_seconds(path, limit) == 1 ? 0 : 1);
		CHECK(child > 0 && waitpid(child, &status, 0) == child);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(has_text(path, "the old file"));
		CHECK(count_entries(prefix) == 0);
	}
	unlink(path);
}

/* What the file to be replaced is: a link's target, never a directory. */
static void
test_targets(void)
{
	const char *link = in_dir("link.wav"), *real = in_dir("real.wav");
	const char *sub = in_dir("sub.wav");
	struct audiofile *f;
	struct stat st;

	put_text(real, "the old file");
	CHECK(symlink("real.wav", link) == 0);
	f = audiofile_create(link, 44100, 0);
	CHECK(f != NULL && audiofile_finish(f) == 0);
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_STR(magic(real), "RIFF");
	unlink(link);
	unlink(real);

	CHECK(mkdir(sub, 0755) == 0);
	CHECK(audiofile_create(sub, 44100, 0) == NULL);
	CHECK(count_entries(".sub.wav.") == 0);
	rmdir(sub);
	CHECK(audiofile_create(in_dir("none/x.wav"), 44100, 0) == NULL);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	err_init("test_audiofile");
	snprintf(dir, sizeof dir, "%s/test_audiofile.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	umask(022);
	test_small_wav_is_riff();
	test_replace_or_keep("keep.wav", "RIFF");
	test_replace_or_keep("keep.flac", "fLaC");
	test_replace_or_keep("keep.opus", "OggS");
	test_write_failure("limit.wav");
	test_write_failure("limit.flac");
	test_write_failure("limit.ogg");
	test_write_failure("limit.opus");
	test_targets();
	test_past_four_gib();
	rmdir(dir);
	return check_done("audiofile");
}
