"""A LlamaIndex query engine on the Cloudflare AI Playground, over the text files in docs/.

A SummaryIndex needs no embedding model: the LLM reads the documents itself.

    python examples/llama_index_query.py          # the live playground
    CF_PLAYGROUND_URL=http://127.0.0.1:8799 python examples/llama_index_query.py   # a local one
"""

from __future__ import annotations

import sys
from pathlib import Path

from llama_index.core import Settings, SimpleDirectoryReader, SummaryIndex

from llama_index_cloudflare_playground import CloudflarePlayground, PlaygroundError


def main() -> None:
    Settings.llm = CloudflarePlayground(model="llama-3.3-70b", max_tokens=300)
    documents = SimpleDirectoryReader(str(Path(__file__).parent / "docs")).load_data()
    engine = SummaryIndex.from_documents(documents).as_query_engine(response_mode="compact")
    question = "What can people do in the Cloudflare AI Playground?"
    print(f"== query over {len(documents)} documents ==\n> {question}")
    print(engine.query(question))


if __name__ == "__main__":
    try:
        main()
    except PlaygroundError as exc:  # one line, never a traceback
        sys.exit(f"The demo stopped: {exc}")
