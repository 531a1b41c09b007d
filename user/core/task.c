// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The cooperative scheduler, after TINN: every Lua callback runs as a task,
 * a coroutine that may sleep or wait without blocking the loop. Coroutines
 * are pooled: a callback that returns without yielding hands its coroutine
 * back, so dispatching an event costs one lua_resume and no allocation.
 *
 * lbpf_call() is the one place C calls into Lua (the runtime hands it to its
 * scheduler, lbpf_sched_call); it owns the coroutine, and reports errors up
 * through the ops its runtime gave it, which keeps the traceback and policy.
 * The scheduler calls nothing above it: it knows its Lua state, its loop and
 * its ops, and the Lua functions find it in the registry.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define POOL_MAX 64
#define WAIT_BUCKETS 256

enum task_state {
	TASK_READY,
	TASK_RUNNING,
	TASK_SLEEPING,
	TASK_WAITING,
	TASK_DONE,
	TASK_FAILED,
	TASK_CANCELLED,
	TASK_IDLE,      /* a callback's coroutine, parked between its calls */
};

static const char *const state_names[] = {
	"ready", "running", "sleeping", "waiting", "done", "failed", "cancelled", "idle",
};

struct waitq;

struct lbpf_task {
	struct lbpf_sched *sched;
	lua_State *co;             /* NULL once finished */
	int co_ref;
	enum task_state state;
	int nargs;                 /* values on co for the next resume */
	lbpf_timer_node_t timer;   /* sleep, or wait timeout */
	struct lbpf_task *prev, *next;           /* ready queue or a wait queue */
	struct lbpf_task *live_prev, *live_next; /* every unfinished task */
	struct waitq *waitq;
	lbpf_object_t *object;     /* spawned tasks; NULL for callbacks */
	bool orphan;               /* its object was closed while it ran */
	bool seen;                 /* coroutine.running() gave co to the script */
	struct lbpf_callback *cb;  /* the callback parked on co between calls */
};

/* A callback called once per event (lbpf_callback_call). Its task's
 * coroutine stays parked in callback_k between calls, so an event costs one
 * resume of a suspended coroutine, not a new task. While a call sleeps or
 * waits, that task goes on alone (detached) and the next call gets a new
 * one, so each call is still its own task to the script. */
struct lbpf_callback {
	struct lbpf_task *task;    /* idle or running; NULL: none parked */
	bool busy;                 /* inside lbpf_sched_callback */
	bool dying;                /* freed while busy: the caller frees it */
};

struct queue {
	struct lbpf_task *head, *tail;
};

struct waitq {
	struct waitq *next;
	struct queue queue;
	char name[];
};

struct coroutine {
	lua_State *co;
	int ref;
};

struct lbpf_sched {
	const struct lbpf_sched_ops *ops;
	lbpf_runtime_t *rt;        /* handed back to ops, never read */
	lua_State *L;
	lbpf_loop_t *loop;
	struct queue ready;
	size_t nready;
	struct lbpf_task *live;
	struct lbpf_task *spare[POOL_MAX]; /* callback task structs */
	int nspare;
	struct coroutine coros[POOL_MAX];  /* finished coroutines, reusable */
	int ncoros;
	struct waitq *buckets[WAIT_BUCKETS];
	size_t nwaiting;
	struct lbpf_task *current;
};

char lbpf_exit_sentinel;

/* The registry holds the scheduler of a state under this key. */
static const char sched_key = 's';

static const lbpf_class_t task_class;

/* ---- queues ---- */

static void queue_push(struct queue *q, struct lbpf_task *t)
{
	t->next = NULL;
	t->prev = q->tail;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

static void queue_remove(struct queue *q, struct lbpf_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		q->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		q->tail = t->prev;
	t->prev = t->next = NULL;
}

static unsigned name_hash(const char *name)
{
	unsigned h = 2166136261u;

	while (*name)
		h = (h ^ (unsigned char)*name++) * 16777619u;
	return h % WAIT_BUCKETS;
}

static struct waitq *waitq_find(struct lbpf_sched *s, const char *name, bool create)
{
	struct waitq **slot = &s->buckets[name_hash(name)], *wq;

	for (wq = *slot; wq; wq = wq->next)
		if (!strcmp(wq->name, name))
			return wq;
	if (!create || !(wq = calloc(1, sizeof(*wq) + strlen(name) + 1)))
		return NULL;
	strcpy(wq->name, name);
	wq->next = *slot;
	*slot = wq;
	return wq;
}

static void waitq_leave(struct lbpf_sched *s, struct lbpf_task *t)
{
	struct waitq *wq = t->waitq, **slot;

	queue_remove(&wq->queue, t);
	t->waitq = NULL;
	s->nwaiting--;
	if (wq->queue.head)
		return;
	for (slot = &s->buckets[name_hash(wq->name)]; *slot != wq; slot = &(*slot)->next)
		;
	*slot = wq->next;
	free(wq);
}

/* ---- coroutines and task life ---- */

static void coro_get(struct lbpf_sched *s, struct lbpf_task *t)
{
	if (s->ncoros) {
		t->co = s->coros[--s->ncoros].co;
		t->co_ref = s->coros[s->ncoros].ref;
	} else {
		t->co = lua_newthread(s->L);
		t->co_ref = luaL_ref(s->L, LUA_REGISTRYINDEX);
	}
	t->seen = false;
	*(struct lbpf_task **)lua_getextraspace(t->co) = t;
}

/* Returns the coroutine to the pool, closing whatever it left open. One that
 * raised is not reused: an error thrown by a hook (the instruction limit)
 * leaves hooks disabled on its thread, and no Lua API turns them back on.
 * Nor is one the script may still hold (coroutine.running() returned it):
 * it must stay dead for the script. A hook the script set on it ends with
 * the callback. */
static void coro_put(struct lbpf_sched *s, struct lbpf_task *t, bool reset, bool reuse)
{
	lua_State *co = t->co;

	if (reset)
#if LUA_VERSION_RELEASE_NUM >= 50406
		lua_closethread(co, s->L);
#else
		lua_resetthread(co);
#endif
	lua_settop(co, 0);
	*(struct lbpf_task **)lua_getextraspace(co) = NULL;
	if (reuse && !t->seen && s->ncoros < POOL_MAX) {
		lbpf_hooks_forget(co);
		s->coros[s->ncoros++] = (struct coroutine){ co, t->co_ref };
	}
	else /* the state is open: the scheduler is freed before lua_close */
		luaL_unref(s->L, LUA_REGISTRYINDEX, t->co_ref);
	t->co = NULL;
}

static void task_live(struct lbpf_sched *s, struct lbpf_task *t)
{
	t->sched = s;
	t->live_prev = NULL;
	t->live_next = s->live;
	if (s->live)
		s->live->live_prev = t;
	s->live = t;
}

static void task_finish(struct lbpf_task *t, enum task_state state, bool reset)
{
	struct lbpf_sched *s = t->sched;

	if (t->cb) {
		t->cb->task = NULL;
		t->cb = NULL;
	}
	if (t->live_prev)
		t->live_prev->live_next = t->live_next;
	else
		s->live = t->live_next;
	if (t->live_next)
		t->live_next->live_prev = t->live_prev;
	coro_put(s, t, reset, state != TASK_FAILED);
	t->state = state;
	if (t->object) {
		bool orphan = t->orphan;

		lbpf_putobject(t->object); /* the scheduler's reference; may free t */
		if (orphan)
			free(t); /* its release left it to us */
	} else if (s->nspare < POOL_MAX)
		s->spare[s->nspare++] = t;
	else
		free(t);
}

static void task_ready(struct lbpf_task *t)
{
	t->state = TASK_READY;
	queue_push(&t->sched->ready, t);
	t->sched->nready++;
}

static void task_cancel(struct lbpf_task *t);

/* Resumes t with its pending arguments. 0 when it finished or suspended,
 * -1 when it raised (reported here). */
static int task_resume(struct lbpf_task *t)
{
	struct lbpf_sched *s = t->sched;
	struct lbpf_task *prev = s->current;
	int nres, status, nargs = t->nargs;

	t->nargs = 0;
	t->state = TASK_RUNNING;
	s->current = t;
	s->ops->resuming(s->rt, t->co);
	status = lua_resume(t->co, s->L, nargs, &nres);
	s->current = prev;
	if (status == LUA_OK || status == LUA_YIELD)
		s->ops->resumed_ok(s->rt);
	if (status == LUA_YIELD) {
		lua_pop(t->co, nres);
		if (t->state == TASK_IDLE) /* a callback returned and parked */
			return 0;
		if (t->cb) { /* a callback slept: it goes on as a task of its own */
			t->cb->task = NULL;
			t->cb = NULL;
		}
		if (t->state == TASK_CANCELLED || t->orphan)
			task_cancel(t);
		else if (t->state == TASK_RUNNING) /* coroutine.yield(): let others run */
			task_ready(t);
		return 0;
	}
	if (status == LUA_OK || lua_touserdata(t->co, -1) == &lbpf_exit_sentinel) {
		task_finish(t, TASK_DONE, status != LUA_OK);
		return 0;
	}
	s->ops->failed(s->rt, t->co, "callback");
	task_finish(t, TASK_FAILED, true);
	return -1;
}

static void task_cancel(struct lbpf_task *t)
{
	struct lbpf_sched *s = t->sched;

	if (!t->co)
		return;
	switch (t->state) {
	case TASK_READY:
		queue_remove(&s->ready, t);
		s->nready--;
		break;
	case TASK_WAITING:
		waitq_leave(s, t);
		/* fall through */
	case TASK_SLEEPING:
		lbpf_loop_timer_cancel(s->loop, &t->timer);
		break;
	case TASK_IDLE:
	case TASK_RUNNING:   /* it yielded after it was closed */
	case TASK_CANCELLED: /* it yielded in task:cancel() */
		break;
	default:
		return;
	}
	task_finish(t, TASK_CANCELLED, true);
}

/* A live callback task (no object) with a coroutine from the pool, or NULL
 * when out of memory. */
static struct lbpf_task *task_new(struct lbpf_sched *s)
{
	struct lbpf_task *t = s->nspare ? s->spare[--s->nspare] : malloc(sizeof(*t));

	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	task_live(s, t);
	coro_get(s, t);
	return t;
}

/* What lbpf_call does, on the scheduler s: runs the function under nargs
 * arguments on L as a new task. 0 if it finished or suspended, -1 if not. */
int lbpf_sched_call(struct lbpf_sched *s, lua_State *L, int nargs)
{
	struct lbpf_task *t;

	if (!s) { /* the runtime is being freed */
		lua_pop(L, nargs + 1);
		return -1;
	}
	if (!(t = task_new(s))) {
		lua_pop(L, nargs + 1);
		s->ops->log(s->rt, "out of memory dispatching a callback");
		return -1;
	}
	s->ops->called(s->rt);
	lua_xmove(L, t->co, nargs + 1);
	t->nargs = nargs;
	return task_resume(t);
}

enum { CALLBACK_CALL, CALLBACK_RETURNED };

/* The body of a callback's coroutine, on each resume: calls the function
 * under its arguments (the values of the resume), then parks (TASK_IDLE)
 * until the next call. It ends instead, finishing its task, when the task
 * was detached while the call slept or when the script holds the coroutine
 * (coroutine.running()), which must then read "dead". */
static int callback_k(lua_State *co, int status, lua_KContext ctx)
{
	struct lbpf_task *t;

	(void)status;
	if (ctx == CALLBACK_CALL)
		lua_callk(co, lua_gettop(co) - 1, 0, CALLBACK_RETURNED, callback_k);
	t = *(struct lbpf_task **)lua_getextraspace(co);
	if (!t || !t->cb || t->seen)
		return 0;
	t->state = TASK_IDLE;
	return lua_yieldk(co, 0, CALLBACK_CALL, callback_k);
}

static int callback_body(lua_State *co)
{
	return callback_k(co, LUA_OK, CALLBACK_CALL);
}

/* A new task parked for cb, its coroutine's body pushed. NULL: no memory. */
static struct lbpf_task *callback_task(struct lbpf_sched *s, struct lbpf_callback *cb)
{
	struct lbpf_task *t = task_new(s);

	if (!t)
		return NULL;
	lua_pushcfunction(t->co, callback_body);
	t->cb = cb;
	cb->task = t;
	return t;
}

int lbpf_sched_callback(struct lbpf_sched *s, struct lbpf_callback **slot, lua_State *L, int nargs)
{
	struct lbpf_callback *cb;
	struct lbpf_task *t;
	int ret;

	/* a call nested in a running one (a drain inside the callback) is a
	 * task of its own */
	if (!s || !(cb = *slot ? *slot : (*slot = calloc(1, sizeof(*cb)))) || cb->busy)
		return lbpf_sched_call(s, L, nargs);
	if (!(t = cb->task) && !(t = callback_task(s, cb)))
		return lbpf_sched_call(s, L, nargs);
	s->ops->called(s->rt);
	lua_xmove(L, t->co, nargs + 1);
	t->nargs = nargs + 1; /* the function and its arguments */
	cb->busy = true;
	ret = task_resume(t);
	cb->busy = false;
	if (cb->dying)
		free(cb);
	return ret;
}

void lbpf_callback_free(struct lbpf_callback *cb)
{
	struct lbpf_task *t;

	if (!cb)
		return;
	if ((t = cb->task)) {
		cb->task = NULL;
		t->cb = NULL; /* a running call ends its task when it returns */
		if (t->state == TASK_IDLE)
			task_finish(t, TASK_DONE, true);
	}
	if (cb->busy)
		cb->dying = true;
	else
		free(cb);
}

void lbpf_pushref(lua_State *L, int ref)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}

/* ---- the scheduler's life ---- */

/* coroutine.running(), as lua5.4's, marking a task's coroutine as seen so
 * that the pool never hands it to another callback. */
static int sched_running(lua_State *L)
{
	struct lbpf_task *t = *(struct lbpf_task **)lua_getextraspace(L);

	if (t)
		t->seen = true;
	lua_pushboolean(L, lua_pushthread(L));
	return 2;
}

struct lbpf_sched *lbpf_sched_new(lua_State *L, lbpf_loop_t *loop,
				  const struct lbpf_sched_ops *ops, lbpf_runtime_t *rt)
{
	struct lbpf_sched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ops = ops;
	s->rt = rt;
	s->L = L;
	s->loop = loop;
	/* "no task" for the main thread, and for every thread that copies its
	 * extra space (coroutine.create): lua_newstate leaves it uninitialised */
	*(struct lbpf_task **)lua_getextraspace(L) = NULL;
	if (lua_getglobal(L, "coroutine") == LUA_TTABLE) {
		lua_pushcfunction(L, sched_running);
		lua_setfield(L, -2, "running");
	}
	lua_pop(L, 1);
	lua_pushlightuserdata(L, s);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &sched_key);
	return s;
}

void lbpf_sched_free(struct lbpf_sched *s)
{
	if (!s)
		return;
	while (s->live) {
		struct lbpf_task *t = s->live;

		if (t->state == TASK_RUNNING) /* only when freed from inside Lua */
			task_finish(t, TASK_CANCELLED, false);
		else
			task_cancel(t);
	}
	while (s->nspare)
		free(s->spare[--s->nspare]);
	/* from now on the Lua functions say the runtime is shutting down */
	lua_pushnil(s->L);
	lua_rawsetp(s->L, LUA_REGISTRYINDEX, &sched_key);
	free(s);
}

int lbpf_sched_run_ready(struct lbpf_sched *s)
{
	size_t n = s->nready;
	int ran = 0;

	/* tasks made ready while running these wait for the next round */
	while (n-- && s->ready.head && !lbpf_loop_stopping(s->loop)) {
		struct lbpf_task *t = s->ready.head;

		queue_remove(&s->ready, t);
		s->nready--;
		task_resume(t);
		ran++;
	}
	return ran;
}

bool lbpf_sched_has_ready(struct lbpf_sched *s)
{
	return s->nready > 0;
}

size_t lbpf_sched_waiting(struct lbpf_sched *s)
{
	return s->nwaiting;
}

/* ---- the Lua API ---- */

/* The scheduler of L's runtime; raises while the runtime is being freed. */
static struct lbpf_sched *checksched(lua_State *L)
{
	struct lbpf_sched *s;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &sched_key);
	s = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!s)
		luaL_error(L, "lbpf: the runtime is shutting down");
	return s;
}

/* The running task of L, or a clear error naming `what`. */
static struct lbpf_task *checkcurrent(lua_State *L, const char *what)
{
	struct lbpf_task *t = *(struct lbpf_task **)lua_getextraspace(L);

	if (!t || t->co != L || t->sched->current != t)
		luaL_error(L, "lbpf.%s: not inside a task (callbacks and lbpf.spawn functions are tasks; "
			      "the script body is not)", what);
	return t;
}

static void task_timer_fired(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct lbpf_task *t = container_of(node, struct lbpf_task, timer);

	if (t->state == TASK_WAITING) {
		waitq_leave(t->sched, t);
		lua_pushnil(t->co);
		lua_pushliteral(t->co, "timeout");
		t->nargs = 2;
	}
	task_resume(t);
}

static uint64_t checkms(lua_State *L, int ix)
{
	lua_Number ms = luaL_checknumber(L, ix);

	luaL_argcheck(L, ms >= 0 && ms < 1e12, ix, "milliseconds must be >= 0");
	return (uint64_t)(ms * 1e6);
}

static void sleep_until(lua_State *L, struct lbpf_task *t, uint64_t deadline)
{
	t->timer.fn = task_timer_fired;
	lbpf_try(L, lbpf_loop_timer_at(t->sched->loop, &t->timer, deadline));
}

/* lbpf.sleep(ms): suspends the running task; sleep(0) lets others run. */
static int lbpf_sleep(lua_State *L)
{
	struct lbpf_task *t = checkcurrent(L, "sleep");
	uint64_t ns = checkms(L, 1);

	if (ns == 0) {
		task_ready(t);
	} else {
		sleep_until(L, t, lbpf_now() + ns);
		t->state = TASK_SLEEPING;
	}
	return lua_yield(L, 0);
}

/* lbpf.wait(name[, timeout_ms]) -> values notified, or nil, "timeout" */
static int lbpf_wait(lua_State *L)
{
	struct lbpf_task *t = checkcurrent(L, "wait");
	const char *name = luaL_checkstring(L, 1);
	bool timed = !lua_isnoneornil(L, 2);
	uint64_t ns = timed ? checkms(L, 2) : 0;
	struct waitq *wq;

	if (timed)
		sleep_until(L, t, lbpf_now() + ns);
	if (!(wq = waitq_find(t->sched, name, true))) {
		lbpf_loop_timer_cancel(t->sched->loop, &t->timer);
		lbpf_throw(L, -ENOMEM, "wait %s", name);
	}
	queue_push(&wq->queue, t);
	t->waitq = wq;
	t->sched->nwaiting++;
	t->state = TASK_WAITING;
	return lua_yield(L, 0);
}

/* Wakes the first waiter of wq with the values at L[2..top]. */
static void wake_one(lua_State *L, struct waitq *wq)
{
	struct lbpf_task *t = wq->queue.head;
	struct lbpf_sched *s = t->sched;
	int i, top = lua_gettop(L);

	waitq_leave(s, t);
	lbpf_loop_timer_cancel(s->loop, &t->timer);
	luaL_checkstack(t->co, top, "too many values to notify");
	for (i = 2; i <= top; i++) {
		lua_pushvalue(L, i);
		lua_xmove(L, t->co, 1);
	}
	t->nargs = top - 1;
	task_ready(t);
}

/* lbpf.notify_one(name, ...) -> true if a task was waiting */
static int lbpf_notify_one(lua_State *L)
{
	struct lbpf_sched *s = checksched(L);
	struct waitq *wq = waitq_find(s, luaL_checkstring(L, 1), false);

	if (wq)
		wake_one(L, wq);
	lua_pushboolean(L, wq != NULL);
	return 1;
}

/* lbpf.notify_all(name, ...) -> number of tasks woken */
static int lbpf_notify_all(lua_State *L)
{
	struct lbpf_sched *s = checksched(L);
	const char *name = luaL_checkstring(L, 1);
	struct waitq *wq;
	lua_Integer n = 0;

	/* the queue is freed when its last waiter leaves */
	while ((wq = waitq_find(s, name, false))) {
		wake_one(L, wq);
		n++;
	}
	lua_pushinteger(L, n);
	return 1;
}

/* lbpf.spawn(fn, ...) -> task; it starts on the next scheduler round */
static int lbpf_spawn(lua_State *L)
{
	struct lbpf_sched *s = checksched(L);
	int i, nargs = lua_gettop(L) - 1;
	lbpf_object_t *object;
	struct lbpf_task *t;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	object = lbpf_newobject(L, &task_class, 0);
	if (!(t = calloc(1, sizeof(*t))))
		lbpf_throw(L, -ENOMEM, "spawn");
	object->private = t;
	t->object = lbpf_getobject(object); /* held by the scheduler until it ends */
	task_live(s, t);
	coro_get(s, t);
	luaL_checkstack(t->co, nargs + 1, "too many arguments to spawn");
	for (i = 1; i <= nargs + 1; i++) {
		lua_pushvalue(L, i);
		lua_xmove(L, t->co, 1);
	}
	t->nargs = nargs;
	task_ready(t);
	return 1;
}

LBPF_PRIVATECHECKER(checktask, struct lbpf_task, &task_class)

/* task:cancel() -> true if it was still running; a task may cancel itself */
static int task_cancel_method(lua_State *L)
{
	struct lbpf_task *t = checktask(L, 1);
	bool live = t->co != NULL;

	if (live && t->sched->current == t) {
		t->state = TASK_CANCELLED;
		return lua_yield(L, 0);
	}
	if (live)
		task_cancel(t);
	lua_pushboolean(L, live);
	return 1;
}

/* task:status() -> "ready"|"running"|"sleeping"|"waiting"|"done"|"failed"|"cancelled" */
static int task_status(lua_State *L)
{
	lua_pushstring(L, state_names[checktask(L, 1)->state]);
	return 1;
}

/* The task struct is EXTERNAL: one closed while it runs (by itself) must
 * outlive its object until it yields or returns; task_finish frees it then. */
static void task_release(void *private)
{
	struct lbpf_task *t = private;

	if (t->co && t->state == TASK_RUNNING) {
		t->orphan = true;
		return;
	}
	task_cancel(t); /* closed while alive: the caller holds a reference */
	free(t);
}

static const luaL_Reg task_methods[] = {
	{ "cancel", task_cancel_method },
	{ "status", task_status },
	{ NULL, NULL },
};

static const lbpf_class_t task_class = {
	.name = "lbpf.task",
	.methods = task_methods,
	.release = task_release,
	.opt = LBPF_OPT_SINGLE | LBPF_OPT_EXTERNAL,
};

static const luaL_Reg task_lib[] = {
	{ "spawn", lbpf_spawn },
	{ "sleep", lbpf_sleep },
	{ "wait", lbpf_wait },
	{ "notify_one", lbpf_notify_one },
	{ "notify_all", lbpf_notify_all },
	{ NULL, NULL },
};

static const lbpf_class_t *const task_classes[] = { &task_class, NULL };

LBPF_NEWLIB(task, task_lib, task_classes)
