"""Chat persistence: conversations, the message tree, folders, tags, search, export and import.

Staged uploads and prepared downloads: `services.chat.transfers`.

Every function takes the signed-in user's `Ctx`, checks `workspace.use`, runs in `tenant_session` (row-level
security) and only ever touches the user's own rows; results are plain frozen dataclasses.

    from services import chat

    conversation = await chat.create_conversation(ctx, provider="openai", model="gpt-4o-mini")
    question = await chat.add_user_message(ctx, conversation.id, None, "Hello")
    ...  # stream the reply with no database session open
    await chat.save_assistant_message(ctx, conversation.id, question.id, text, status="complete",
                                      provider="openai", model="gpt-4o-mini", prompt_tokens=9,
                                      completion_tokens=12, ttft_ms=300, duration_ms=900)
    tree = await chat.get_tree(ctx, conversation.id)
    for step in tree.path():  # the visible branch: step.message, step.index / step.count
        ...
"""

from services.chat.common import (
    DEFAULT_TITLE,
    MAX_MESSAGE_CHARS,
    ConversationFilters,
    ConversationInfo,
    FolderInfo,
    MessageInfo,
    TagInfo,
)
from services.chat.conversations import (
    ConversationPage,
    SidebarGroup,
    create_conversation,
    delete_conversation,
    fallback_title,
    get_conversation,
    group_by_day,
    list_conversations,
    move_to_folder,
    rename_conversation,
    set_archived,
    set_model,
    set_pinned,
    set_title,
)
from services.chat.export import (
    conversation_filename,
    export_json,
    export_markdown,
    json_bytes,
    write_archive,
    write_conversation,
)
from services.chat.folders import create_folder, delete_folder, list_folders, rename_folder
from services.chat.importing import (
    MAX_IMPORT_BYTES,
    ImportProgress,
    ImportResult,
    ProgressCallback,
    Skipped,
    import_conversations,
    import_file,
)
from services.chat.messages import (
    ConversationTree,
    add_user_message,
    get_tree,
    save_assistant_message,
    select_sibling,
)
from services.chat.path import PathWindow, path_window
from services.chat.search import SearchHit, SearchResults, SnippetPart, search, search_results
from services.chat.tags import (
    create_tag,
    delete_tag,
    list_tags,
    rename_tag,
    tag_conversation,
    untag_conversation,
)
from services.chat.tree import PathStep, branch_path, history_for_model, latest_leaf

__all__ = [
    "DEFAULT_TITLE",
    "MAX_IMPORT_BYTES",
    "MAX_MESSAGE_CHARS",
    "ConversationFilters",
    "ConversationInfo",
    "ConversationPage",
    "ConversationTree",
    "FolderInfo",
    "ImportProgress",
    "ImportResult",
    "MessageInfo",
    "PathStep",
    "PathWindow",
    "ProgressCallback",
    "SearchHit",
    "SearchResults",
    "SidebarGroup",
    "Skipped",
    "SnippetPart",
    "TagInfo",
    "add_user_message",
    "branch_path",
    "conversation_filename",
    "create_conversation",
    "create_folder",
    "create_tag",
    "delete_conversation",
    "delete_folder",
    "delete_tag",
    "export_json",
    "export_markdown",
    "fallback_title",
    "get_conversation",
    "get_tree",
    "group_by_day",
    "history_for_model",
    "import_conversations",
    "import_file",
    "json_bytes",
    "latest_leaf",
    "list_conversations",
    "list_folders",
    "list_tags",
    "move_to_folder",
    "path_window",
    "rename_conversation",
    "rename_folder",
    "rename_tag",
    "save_assistant_message",
    "search",
    "search_results",
    "select_sibling",
    "set_archived",
    "set_model",
    "set_pinned",
    "set_title",
    "tag_conversation",
    "untag_conversation",
    "write_archive",
    "write_conversation",
]
