// consumer.cpp: a third party's C++ program built against the installed
// libmdbp with pkg-config only (tests/install/test_install.py builds and
// runs it): the C headers through extern "C", from C++11.
//
// Against a live mds-coordinator it sends one batch on a DEALER and decodes
// the ack (every record written), then decodes one feedback message of the
// coordinator. Exit 0 when both held, 1 if not, 2 on bad arguments.
// Usage: consumer-cxx INGEST_ENDPOINT FEEDBACK_ENDPOINT COORDINATOR_ID PROVIDER
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <mdbp/mdbp.h>
#include <zmq.h>

namespace
{

const std::size_t kRecords = 12; // records in the batch
const int kDeadlineMs = 10000;   // each wait ends before or fails
const int kPollMs = 100;         // one zmq_poll slice
const long long kTsNsBase = 1700000000000000000LL;
const std::uint64_t kBatchSeq = 1;

// Owns one mdbp_buffer_t (released on scope exit).
class Buffer
{
  public:
    Buffer()
    {
        mdbp_buffer_init(&buffer_);
    }
    ~Buffer()
    {
        mdbp_buffer_release(&buffer_);
    }
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    mdbp_buffer_t *get()
    {
        return &buffer_;
    }

  private:
    mdbp_buffer_t buffer_;
};

// One ZeroMQ socket (closed on scope exit).
class Socket
{
  public:
    Socket(void *context, int type) : socket_(zmq_socket(context, type))
    {
        int linger = 0;
        zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
    }
    ~Socket()
    {
        zmq_close(socket_);
    }
    Socket(const Socket &) = delete;
    Socket &operator=(const Socket &) = delete;
    void *get()
    {
        return socket_;
    }

    // One frame within the deadline; throws when none came.
    std::string recv()
    {
        auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(kDeadlineMs);
        while (std::chrono::steady_clock::now() < deadline) {
            zmq_pollitem_t item = {socket_, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&item, 1, kPollMs) < 0)
                throw std::runtime_error("zmq_poll failed");
            if (item.revents & ZMQ_POLLIN) {
                zmq_msg_t frame;
                zmq_msg_init(&frame);
                if (zmq_msg_recv(&frame, socket_, 0) < 0) {
                    zmq_msg_close(&frame);
                    throw std::runtime_error("zmq_msg_recv failed");
                }
                std::string bytes(static_cast<char *>(zmq_msg_data(&frame)),
                                  zmq_msg_size(&frame));
                zmq_msg_close(&frame);
                return bytes;
            }
        }
        throw std::runtime_error("nothing received in time");
    }

  private:
    void *socket_;
};

std::vector<mdbp_record_t> make_records(const std::string &provider)
{
    std::vector<mdbp_record_t> records(kRecords);
    for (std::size_t index = 0; index < kRecords; index++) {
        mdbp_record_t &record = records[index];
        std::memset(&record, 0, sizeof record);
        record.kind = MDBP_RECORD_TRADE;
        std::snprintf(record.provider, sizeof record.provider, "%s",
                      provider.c_str());
        std::snprintf(record.symbol, sizeof record.symbol, "CXX%zu", index);
        record.ts_ns = kTsNsBase + static_cast<long long>(index);
        record.u.trade.price = 50.0 + static_cast<double>(index);
        record.u.trade.size = 3.0;
    }
    return records;
}

void ingest(void *context, const std::string &endpoint,
            const std::string &provider)
{
    Socket dealer(context, ZMQ_DEALER);
    if (zmq_connect(dealer.get(), endpoint.c_str()) != 0)
        throw std::runtime_error("cannot connect " + endpoint);
    std::vector<mdbp_record_t> records = make_records(provider);
    Buffer batch;
    if (mdbp_batch_encode(provider.c_str(), kBatchSeq, records.data(),
                          records.size(), batch.get()) != 0)
        throw std::runtime_error("mdbp_batch_encode refused the batch");
    if (zmq_send(dealer.get(), batch.get()->data, batch.get()->size, 0) < 0)
        throw std::runtime_error("zmq_send failed");
    std::string frame = dealer.recv();
    mdbp_reply_t reply;
    mdbp_error_t error = {};
    if (mdbp_reply_decode(frame.data(), frame.size(), &reply, &error) != 0)
        throw std::runtime_error(std::string("bad reply: ") + error.text);
    if (reply.type != MDBP_REPLY_ACK || reply.batch_seq != kBatchSeq ||
        reply.written != kRecords)
        throw std::runtime_error("expected an ack of every record, got " +
                                 std::to_string(reply.written) + " written");
    std::printf("ack batch_seq=%llu written=%u\n",
                static_cast<unsigned long long>(reply.batch_seq),
                static_cast<unsigned>(reply.written));
}

void feedback(void *context, const std::string &endpoint,
              const std::string &coordinator_id)
{
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    int length =
        mdbp_feedback_topic(coordinator_id.c_str(), topic, sizeof topic);
    if (length < 0)
        throw std::runtime_error("bad coordinator id " + coordinator_id);
    Socket subscriber(context, ZMQ_SUB);
    zmq_setsockopt(subscriber.get(), ZMQ_SUBSCRIBE, topic,
                   static_cast<std::size_t>(length));
    if (zmq_connect(subscriber.get(), endpoint.c_str()) != 0)
        throw std::runtime_error("cannot connect " + endpoint);
    std::string received_topic = subscriber.recv();
    if (received_topic != std::string(topic, static_cast<std::size_t>(length)))
        throw std::runtime_error("the first frame is not our topic");
    std::string body = subscriber.recv();
    mdbp_feedback_t event;
    mdbp_error_t error = {};
    if (mdbp_feedback_decode(body.data(), body.size(), &event, &error) != 0)
        throw std::runtime_error(std::string("bad feedback: ") + error.text);
    if (coordinator_id != event.coordinator_id)
        throw std::runtime_error("feedback of another coordinator");
    std::printf("feedback type=%s level=%s seq=%llu\n",
                mdbp_feedback_type_name(event.type),
                mdbp_level_name(event.level),
                static_cast<unsigned long long>(event.seq));
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: consumer-cxx INGEST_ENDPOINT "
                             "FEEDBACK_ENDPOINT COORDINATOR_ID PROVIDER\n");
        return 2;
    }
    void *context = zmq_ctx_new();
    int code = 0;
    try {
        ingest(context, argv[1], argv[4]);
        feedback(context, argv[2], argv[3]);
    } catch (const std::exception &failure) {
        std::fprintf(stderr, "consumer-cxx: %s\n", failure.what());
        code = 1;
    }
    zmq_ctx_term(context);
    return code;
}
