"""A LangChain chain on the Cloudflare AI Playground: streaming, a conversation, a tool call.

python examples/langchain_chain.py          # the live playground
CF_PLAYGROUND_URL=http://127.0.0.1:8799 python examples/langchain_chain.py   # a local one
"""

from __future__ import annotations

import sys

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from langchain_cloudflare_playground import ChatCloudflarePlayground, PlaygroundError


def main() -> None:
    llm = ChatCloudflarePlayground(model="llama-3.3-70b", max_tokens=300)

    # 1. prompt | model | parser, streamed as it arrives.
    explain = (
        ChatPromptTemplate.from_messages(
            [("system", "You explain things in two sentences."), ("human", "What is {topic}?")]
        )
        | llm
        | StrOutputParser()
    )
    print("== chain, streamed ==")
    for piece in explain.stream({"topic": "Cloudflare Workers AI"}):
        print(piece, end="", flush=True)
    print()

    # 2. A conversation that remembers earlier turns: the history is a list of messages.
    history: list[BaseMessage] = [SystemMessage("You are a concise assistant.")]
    print("== conversation ==")
    for question in ("My name is Ada. Name one colour.", "What is my name?"):
        print(f"> {question}")
        history.append(HumanMessage(question))
        reply = llm.invoke(history)
        history.append(reply)
        print(reply.text)
    print(f"(the conversation holds {len(history)} messages)")

    # 3. A tool the model may call: its call runs here, and its result goes back to the model.
    print("== tool call ==")
    tools = {"multiply": multiply}
    messages: list[BaseMessage] = [HumanMessage("What is 12 times 34? Use multiply.")]
    with_tools = llm.bind_tools(list(tools.values()))
    reply = with_tools.invoke(messages)
    messages.append(reply)
    for call in reply.tool_calls:
        print(f"model calls {call['name']}({call['args']})")
        messages.append(tools[call["name"]].invoke(call))  # a ToolMessage with the result
    if reply.tool_calls:
        print(with_tools.invoke(messages).text)
    else:
        print(f"(no call; the model answered: {reply.text})")


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


if __name__ == "__main__":
    try:
        main()
    except PlaygroundError as exc:  # one line, never a traceback
        sys.exit(f"The demo stopped: {exc}")
