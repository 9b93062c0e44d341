// The collector core (collector-c/src/collector.h) inside the host tool's
// process: `profinfer-host record` profiles a local llama.cpp run without a
// separate profinferd. One Session is one pi_collector; after start() only
// its poll thread touches the collector, and JavaScript sees a snapshot of
// the statistics that thread refreshes after every poll.
#include <napi.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

extern "C" {
#include "collector.h"
#include "version.h"
}

namespace {

constexpr int kPollMs = 50;

bool ParseLevel(const std::string &s, pi_level *out)
{
	if (s == "token")
		*out = PI_LEVEL_TOKEN;
	else if (s == "graph")
		*out = PI_LEVEL_GRAPH;
	else if (s == "node")
		*out = PI_LEVEL_NODE;
	else
		return false;
	return true;
}

Napi::Object StatsObject(Napi::Env env, const pi_collector_stats &s)
{
	Napi::Object o = Napi::Object::New(env);
	o.Set("events", Napi::Number::New(env, (double)s.events));
	o.Set("tokens", Napi::Number::New(env, (double)s.tokens));
	o.Set("graphs", Napi::Number::New(env, (double)s.graphs));
	o.Set("nodeRows", Napi::Number::New(env, (double)s.node_rows));
	o.Set("structures", Napi::Number::New(env, (double)s.structures));
	o.Set("schedulerEvents", Napi::Number::New(env, (double)s.sched_events));
	/* Everything not recorded, as profinferd's closing line counts it. */
	o.Set("lost", Napi::Number::New(env, (double)pi_collector_stats__lost(&s)));
	o.Set("bytesWritten", Napi::Number::New(env, (double)s.bytes_written));
	o.Set("modulesAttached", Napi::Number::New(env, (double)s.modules_attached));
	return o;
}

class Session : public Napi::ObjectWrap<Session> {
    public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "Session",
				   {
					   InstanceMethod("addPid", &Session::AddPid),
					   InstanceMethod("addPidBeforeExec", &Session::AddPidBeforeExec),
					   InstanceMethod("start", &Session::Start),
					   InstanceMethod("stats", &Session::Stats),
					   InstanceMethod("hasEngine", &Session::HasEngine),
					   InstanceMethod("failed", &Session::Failed),
					   InstanceMethod("stop", &Session::Stop),
				   });
	}

	// new Session({ output, level?, structure?, layout?, nodeProbes?, sched?, moe?, counters?, ringBufferKib? })
	explicit Session(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Session>(info)
	{
		Napi::Env env = info.Env();
		if (info.Length() != 1 || !info[0].IsObject()) {
			Napi::TypeError::New(env, "new Session(options): options must be an object").ThrowAsJavaScriptException();
			return;
		}
		Napi::Object o = info[0].As<Napi::Object>();
		if (!o.Get("output").IsString()) {
			Napi::TypeError::New(env, "options.output must be the trace file path").ThrowAsJavaScriptException();
			return;
		}
		std::string output = o.Get("output").As<Napi::String>();
		pi_collector_opts opts = {};
		opts.level = PI_LEVEL_NODE;
		opts.structure = true;
		opts.node_probes = PI_NODE_PROBES_AUTO;
		if (o.Has("level")) {
			Napi::Value v = o.Get("level");
			if (!v.IsString() || !ParseLevel(v.As<Napi::String>(), &opts.level)) {
				Napi::TypeError::New(env, "options.level must be token, graph or node").ThrowAsJavaScriptException();
				return;
			}
		}
		if (o.Has("structure"))
			opts.structure = o.Get("structure").ToBoolean();
		if (o.Has("layout")) {
			if (!o.Get("layout").IsString()) {
				Napi::TypeError::New(env, "options.layout must be a string").ThrowAsJavaScriptException();
				return;
			}
			layout_ = o.Get("layout").As<Napi::String>();
			opts.layout = layout_.c_str();
		}
		if (o.Has("nodeProbes")) {
			Napi::Value v = o.Get("nodeProbes");
			if (!v.IsString() || pi_node_probes__parse(std::string(v.As<Napi::String>()).c_str(), &opts.node_probes)) {
				Napi::TypeError::New(env, "options.nodeProbes must be auto, one or two").ThrowAsJavaScriptException();
				return;
			}
		}
		if (o.Has("sched"))
			opts.sched = o.Get("sched").ToBoolean();
		if (o.Has("moe"))
			opts.moe = o.Get("moe").ToBoolean();
		if (o.Has("counters")) {
			if (!o.Get("counters").IsString()) {
				Napi::TypeError::New(env, "options.counters must be a comma-separated string").ThrowAsJavaScriptException();
				return;
			}
			counters_ = o.Get("counters").As<Napi::String>();
			opts.counters = counters_.c_str();
		}
		if (o.Has("ringBufferKib")) {
			Napi::Value v = o.Get("ringBufferKib");
			double kib = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
			if (kib < 0 || kib > (1 << 22) || kib != (uint32_t)kib) {
				Napi::TypeError::New(env, "options.ringBufferKib must be a whole number of KiB").ThrowAsJavaScriptException();
				return;
			}
			opts.ring_buffer_kib = (uint32_t)kib;
		}

		fd_ = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd_ < 0) {
			Napi::Error::New(env, "cannot write " + output + ": " + strerror(errno)).ThrowAsJavaScriptException();
			return;
		}
		opts.out_fd = fd_;
		char err[512] = "";
		int rc = pi_collector__new(&opts, &c_, err, sizeof(err));
		if (rc) {
			Napi::Error::New(env, err[0] ? err : strerror(-rc)).ThrowAsJavaScriptException();
			return;
		}
	}

	~Session() override
	{
		StopThread();
		if (c_)
			pi_collector__free(c_);
		if (fd_ >= 0)
			close(fd_);
	}

    private:
	bool Usable(Napi::Env env, bool before_start)
	{
		if (!c_ || finished_) {
			Napi::Error::New(env, "this session is stopped").ThrowAsJavaScriptException();
			return false;
		}
		if (before_start && started_) {
			Napi::Error::New(env, "add targets before start()").ThrowAsJavaScriptException();
			return false;
		}
		return true;
	}

	Napi::Value AddPid(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!Usable(env, true))
			return env.Undefined();
		if (!info[0].IsNumber()) {
			Napi::TypeError::New(env, "addPid(pid): pid must be a number").ThrowAsJavaScriptException();
			return env.Undefined();
		}
		char err[512] = "";
		int rc = pi_collector__add_pid(c_, info[0].As<Napi::Number>().Int32Value(), err, sizeof(err));
		if (rc)
			Napi::Error::New(env, err[0] ? err : strerror(-rc)).ThrowAsJavaScriptException();
		return env.Undefined();
	}

	// A child held before exec (the caller releases it afterwards): probes
	// are attached to `exe` for that pid before any of its code runs.
	Napi::Value AddPidBeforeExec(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!Usable(env, true))
			return env.Undefined();
		if (!info[0].IsNumber() || !info[1].IsString()) {
			Napi::TypeError::New(env, "addPidBeforeExec(pid, exe)").ThrowAsJavaScriptException();
			return env.Undefined();
		}
		std::string exe = info[1].As<Napi::String>();
		char err[512] = "";
		int rc = pi_collector__add_pid_before_exec(c_, info[0].As<Napi::Number>().Int32Value(), exe.c_str(), err,
							   sizeof(err));
		if (rc)
			Napi::Error::New(env, err[0] ? err : strerror(-rc)).ThrowAsJavaScriptException();
		return env.Undefined();
	}

	Napi::Value Start(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!Usable(env, true))
			return env.Undefined();
		stop_ = false;
		started_ = true;
		thread_ = std::thread([this] { PollLoop(); });
		return env.Undefined();
	}

	void PollLoop()
	{
		while (!stop_.load()) {
			int n = pi_collector__poll(c_, kPollMs);
			pi_collector_stats s;
			pi_collector__stats(c_, &s);
			std::lock_guard<std::mutex> g(mu_);
			snapshot_ = s;
			if (n < 0 && n != -EINTR) {
				poll_error_ = n;
				break;
			}
		}
	}

	void StopThread()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		pi_collector_stats s = {};
		if (started_) {
			std::lock_guard<std::mutex> g(mu_);
			s = snapshot_;
		} else if (c_) {
			pi_collector__stats(c_, &s);
		}
		return StatsObject(info.Env(), s);
	}

	Napi::Value HasEngine(const Napi::CallbackInfo &info)
	{
		if (finished_)
			return Napi::Boolean::New(info.Env(), has_engine_);
		return Napi::Boolean::New(info.Env(), c_ && pi_collector__has_engine(c_));
	}

	Napi::Value Failed(const Napi::CallbackInfo &info)
	{
		if (finished_)
			return Napi::Boolean::New(info.Env(), failed_ || poll_error_ != 0);
		return Napi::Boolean::New(info.Env(), (c_ && pi_collector__failed(c_)) || poll_error_ != 0);
	}

	// stop(reason, exitCode): Promise<stats>. Joins the poll thread, detaches
	// every probe, drains and writes SessionEnd, off the JavaScript thread.
	Napi::Value Stop(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		auto deferred = Napi::Promise::Deferred::New(env);
		if (!c_ || finished_) {
			deferred.Reject(Napi::Error::New(env, "this session is already stopped").Value());
			return deferred.Promise();
		}
		std::string reason = info.Length() > 0 && info[0].IsString() ? std::string(info[0].As<Napi::String>()) : "stopped";
		int exit_code = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
		finished_ = true;
		started_ = true; /* stats() reads the snapshot the worker leaves */
		(new StopWorker(this, deferred, reason, exit_code))->Queue();
		return deferred.Promise();
	}

	class StopWorker : public Napi::AsyncWorker {
	    public:
		StopWorker(Session *s, Napi::Promise::Deferred d, std::string reason, int exit_code)
			: Napi::AsyncWorker(d.Env()), s_(s), d_(d), reason_(std::move(reason)), exit_code_(exit_code)
		{
			s_->Ref(); // keep the session alive until the promise settles
		}
		void Execute() override
		{
			s_->StopThread();
			rc_ = pi_collector__finish(s_->c_, reason_.c_str(), exit_code_);
			pi_collector__stats(s_->c_, &stats_);
			s_->has_engine_ = pi_collector__has_engine(s_->c_);
			s_->failed_ = pi_collector__failed(s_->c_);
			// Programs, maps and the trace file go now, not when the GC runs.
			pi_collector__free(s_->c_);
			s_->c_ = nullptr;
			close(s_->fd_);
			s_->fd_ = -1;
			std::lock_guard<std::mutex> g(s_->mu_);
			s_->snapshot_ = stats_;
		}
		void OnOK() override
		{
			Napi::Env env = Env();
			s_->Unref();
			if (rc_ < 0) {
				d_.Reject(Napi::Error::New(env, std::string("finishing the trace failed: ") + strerror(-rc_)).Value());
				return;
			}
			d_.Resolve(StatsObject(env, stats_));
		}

	    private:
		Session *s_;
		Napi::Promise::Deferred d_;
		std::string reason_;
		int exit_code_;
		int rc_ = 0;
		pi_collector_stats stats_ = {};
	};

	pi_collector *c_ = nullptr;
	int fd_ = -1;
	std::string layout_, counters_;
	std::thread thread_;
	std::atomic<bool> stop_{ false };
	std::atomic<bool> finished_{ false };
	bool started_ = false; /* JavaScript thread only */
	bool has_engine_ = false, failed_ = false; /* kept by stop() */
	std::mutex mu_;
	pi_collector_stats snapshot_ = {};
	int poll_error_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("Session", Session::Define(env));
	exports.Set("version", Napi::String::New(env, PI_VERSION));
	return exports;
}

} // namespace

NODE_API_MODULE(profinfer, Init)
